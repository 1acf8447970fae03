{{/* Chart name. */}}
{{- define "skua.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name. */}}
{{- define "skua.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "skua.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "skua.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "skua.selectorLabels" -}}
app.kubernetes.io/name: {{ include "skua.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The UI's pods (ui.yaml): a name of their own, so Skua's Services never select them. */}}
{{- define "skua.uiSelectorLabels" -}}
app.kubernetes.io/name: {{ include "skua.name" . }}-ui
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "skua.uiLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "skua.uiSelectorLabels" . }}
app.kubernetes.io/component: ui
app.kubernetes.io/version: {{ .Values.ui.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* skua.yaml: the container's configuration. Listen addresses and the data path are fixed
     by the chart (they must match the ports and the volume below). */}}
{{/* The Secret holding a listener group's certificate, or "" without TLS. */}}
{{- define "skua.tlsSecret" -}}
{{- $g := index .root.Values.tls .group -}}
{{- if $g.enabled -}}
{{- if $g.secretName -}}{{ $g.secretName }}{{- else if .root.Values.tls.certManager.enabled -}}{{ include "skua.fullname" .root }}-tls{{- end -}}
{{- end -}}
{{- end }}

{{/* The tls block of a listener group's configuration (an empty dict without TLS). */}}
{{- define "skua.tlsConfig" -}}
{{- $g := index .root.Values.tls .group -}}
{{- if (include "skua.tlsSecret" .) -}}
{{- $d := printf "/etc/skua-tls/%s" .group -}}
{{- $t := dict "cert_file" (printf "%s/tls.crt" $d) "key_file" (printf "%s/tls.key" $d) -}}
{{- if $g.clientAuth -}}
{{- $_ := set $t "client_ca_file" (printf "%s/ca.crt" $d) -}}
{{- $_ := set $t "client_auth" $g.clientAuth -}}
{{- end -}}
{{- toJson $t -}}
{{- else -}}
{}
{{- end -}}
{{- end }}

{{- define "skua.config" -}}
{{- $c := .Values.config -}}
{{- $ingestTls := include "skua.tlsConfig" (dict "root" . "group" "ingest") | fromJson -}}
{{- $queryTls := include "skua.tlsConfig" (dict "root" . "group" "query") | fromJson -}}
{{- $adminTls := include "skua.tlsConfig" (dict "root" . "group" "admin") | fromJson -}}
{{- $a := .Values.auth -}}
{{- $t := .Values.tenancy -}}
{{- $ingestAuth := dict -}}
{{- if $a.ingest.secretName }}
{{- $_ := set $ingestAuth "bearer_tokens_file" (printf "/etc/skua-auth/ingest/%s" $a.ingest.tokensKey) }}
{{- end }}
{{- $queryAuth := dict -}}
{{- if and $a.query.secretName $a.query.tokensKey }}
{{- $_ := set $queryAuth "bearer_tokens_file" (printf "/etc/skua-auth/query/%s" $a.query.tokensKey) }}
{{- end }}
{{- if and $a.query.secretName $a.query.htpasswdKey }}
{{- $_ := set $queryAuth "htpasswd_file" (printf "/etc/skua-auth/query/%s" $a.query.htpasswdKey) }}
{{- end }}
{{- $metricsAuth := dict -}}
{{- if $a.metrics.secretName }}
{{- $_ := set $metricsAuth "bearer_tokens_file" (printf "/etc/skua-auth/metrics/%s" $a.metrics.tokensKey) }}
{{- end }}
{{- $base := dict
  "storage" (dict "path" "/data" "shards" $c.storage.shards "fsync" $c.storage.fsync "block_cache_size" $c.storage.blockCacheSize "memtable_size" $c.storage.memtableSize "retention" $c.storage.retention "retention_overrides" $c.storage.retentionOverrides "max_disk_bytes" $c.storage.maxDiskBytes)
  "collector" (dict
    "otlp" (dict
      "grpc" (dict "endpoint" "0.0.0.0:4317" "max_recv_msg_size" $c.collector.grpcMaxRecvMsgSize "auth" $ingestAuth "tls" $ingestTls)
      "http" (dict "endpoint" "0.0.0.0:4318" "max_request_body_size" $c.collector.httpMaxRequestBodySize "auth" $ingestAuth "tls" $ingestTls
        "cors" (dict "allowed_origins" .Values.cors.otlpHttp.allowedOrigins "allowed_headers" .Values.cors.otlpHttp.allowedHeaders)))
    "queue" (dict "max_bytes" $c.collector.queueMaxBytes)
    "retry_after" $c.collector.retryAfter
    "max_inflight_bytes" $c.collector.maxInflightBytes)
  "query" (dict
    "http" (dict "endpoint" "0.0.0.0:16686" "auth" $queryAuth "tls" $queryTls
      "cors" (dict "allowed_origins" .Values.cors.query.allowedOrigins "allowed_headers" .Values.cors.query.allowedHeaders))
    "grpc" (dict "endpoint" "0.0.0.0:16685" "auth" $queryAuth "tls" $queryTls)
    "max_limit" $c.query.maxLimit "timeout" $c.query.timeout "max_response_bytes" $c.query.maxResponseBytes)
  "admin" (dict "endpoint" "0.0.0.0:8888" "auth" $metricsAuth "tls" $adminTls)
  "tenancy" (dict "enabled" $t.enabled "header" $t.header "tenants" $t.tenants "max_tenants" $t.maxTenants "max_spans_per_second" $t.maxSpansPerSecond "rate_overrides" $t.rateOverrides "retention_overrides" $t.retentionOverrides)
  "log" (dict "level" $c.log.level) -}}
{{- toYaml (mustMergeOverwrite $base (deepCopy .Values.extraConfig)) }}
{{- end }}

{{/* The UI's Jaeger v2 configuration: Jaeger's query service (UI, HTTP and gRPC APIs) reading
     from Skua through the remote storage API on Skua's query gRPC port; with ui.collector, also
     an OTLP receiver writing to Skua's OTLP gRPC port. Credentials come from the environment
     (a Secret), never from this file. */}}
{{- define "skua.uiConfig" -}}
{{- $u := .Values.ui -}}
{{- if and .Values.auth.query.secretName (not (and $u.credentials.secretName $u.credentials.queryTokenKey)) -}}
{{- fail "auth.query is on: the UI needs a token for Skua's query port (ui.credentials.secretName and ui.credentials.queryTokenKey), or set ui.enabled=false" -}}
{{- end -}}
{{- if and $u.collector.enabled .Values.auth.ingest.secretName (not (and $u.credentials.secretName $u.credentials.ingestTokenKey)) -}}
{{- fail "auth.ingest is on: the UI's collector needs a token for Skua's OTLP port (ui.credentials.ingestTokenKey), or set ui.collector.enabled=false" -}}
{{- end -}}
{{- $skua := include "skua.fullname" . -}}
{{- $reader := dict "endpoint" (printf "%s:16685" $skua) "tls" (dict "insecure" true) -}}
{{- $writer := dict "endpoint" (printf "%s:4317" $skua) "tls" (dict "insecure" true) -}}
{{- if include "skua.tlsSecret" (dict "root" . "group" "query") -}}
{{- $_ := set $reader "tls" (dict "ca_file" "/etc/skua-ui/tls/query/ca.crt" "server_name_override" $skua) -}}
{{- end -}}
{{- if include "skua.tlsSecret" (dict "root" . "group" "ingest") -}}
{{- $wtls := dict "ca_file" "/etc/skua-ui/tls/ingest/ca.crt" "server_name_override" $skua -}}
{{- if .Values.tls.ingest.clientAuth -}}
{{- /* Mutual TLS on ingest: the UI's collector presents the ingest Secret's certificate. */ -}}
{{- $_ := set $wtls "cert_file" "/etc/skua-ui/tls/ingest/tls.crt" -}}
{{- $_ := set $wtls "key_file" "/etc/skua-ui/tls/ingest/tls.key" -}}
{{- end -}}
{{- $_ := set $writer "tls" $wtls -}}
{{- end -}}
{{- if and $u.credentials.secretName $u.credentials.queryTokenKey -}}
{{- $_ := set $reader "headers" (dict "authorization" "Bearer ${env:SKUA_QUERY_TOKEN}") -}}
{{- end -}}
{{- if and $u.credentials.secretName $u.credentials.ingestTokenKey -}}
{{- $_ := set $writer "headers" (dict "authorization" "Bearer ${env:SKUA_INGEST_TOKEN}") -}}
{{- end -}}
{{- $backend := merge (dict "writer" $writer) $reader -}}
{{- $query := dict "storage" (dict "traces" "skua") "http" (dict "endpoint" "0.0.0.0:16686") "grpc" (dict "endpoint" "0.0.0.0:16685") -}}
{{- if .Values.tenancy.enabled -}}
{{- /* Jaeger 2.13 reads these three keys by its Go field names (they carry no mapstructure
       tags): capitalized, or `jaeger validate` refuses them. */ -}}
{{- $tenancy := dict "Enabled" true "Header" .Values.tenancy.header "Tenants" .Values.tenancy.tenants -}}
{{- $_ := set $query "multi_tenancy" $tenancy -}}
{{- $_ := set $backend "multi_tenancy" $tenancy -}}
{{- end -}}
{{- $pipeline := dict "receivers" (list "nop") "processors" (list "batch") "exporters" (list "nop") -}}
{{- $receivers := dict "nop" nil -}}
{{- $exporters := dict "nop" nil -}}
{{- if $u.collector.enabled -}}
{{- $pipeline = dict "receivers" (list "otlp") "processors" (list "batch") "exporters" (list "jaeger_storage_exporter") -}}
{{- $receivers = dict "otlp" (dict "protocols" (dict "grpc" (dict "endpoint" "0.0.0.0:4317") "http" (dict "endpoint" "0.0.0.0:4318"))) -}}
{{- $exporters = dict "jaeger_storage_exporter" (dict "trace_storage" "skua") -}}
{{- end -}}
{{- $config := dict
  "service" (dict
    "extensions" (list "jaeger_storage" "jaeger_query" "healthcheckv2")
    "pipelines" (dict "traces" $pipeline)
    "telemetry" (dict
      "resource" (dict "service.name" "jaeger-ui")
      "metrics" (dict "level" "basic" "readers" (list (dict "pull" (dict "exporter" (dict "prometheus" (dict "host" "0.0.0.0" "port" 8888))))))
      "logs" (dict "level" $u.logLevel)))
  "extensions" (dict
    "healthcheckv2" (dict "use_v2" true "http" (dict "endpoint" "0.0.0.0:13133"))
    "jaeger_query" $query
    "jaeger_storage" (dict "backends" (dict "skua" (dict "grpc" $backend))))
  "receivers" $receivers
  "processors" (dict "batch" nil)
  "exporters" $exporters -}}
{{- toYaml $config }}
{{- end }}
