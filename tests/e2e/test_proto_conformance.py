"""Skua's OTLP .proto files against the official ones shipped in the opentelemetry-proto package:
same packages, message and enum names, field names, numbers, types and labels."""

import subprocess

from google.protobuf import descriptor_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import REPO

FILES = {
    "opentelemetry/proto/common/v1/common.proto": common_pb2,
    "opentelemetry/proto/resource/v1/resource.proto": resource_pb2,
    "opentelemetry/proto/trace/v1/trace.proto": trace_pb2,
    "opentelemetry/proto/collector/trace/v1/trace_service.proto": trace_service_pb2,
}


def ours(tmp_path):
    out = tmp_path / "skua.pb"
    subprocess.run(
        ["protoc", f"-I{REPO / 'proto'}", "--include_imports", f"--descriptor_set_out={out}", *FILES],
        check=True,
    )
    fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return {f.name: f for f in fds.file}


def shape(file_proto):
    """{qualified name: set of (field name, number, type, label, type_name)} for messages, and
    {qualified name: set of (value name, number)} for enums."""
    result = {}

    def walk_msg(prefix, m):
        name = f"{prefix}.{m.name}"
        result[name] = {(f.name, f.number, f.type, f.label, f.type_name) for f in m.field}
        for n in m.nested_type:
            walk_msg(name, n)
        for e in m.enum_type:
            result[f"{name}.{e.name}"] = {(v.name, v.number) for v in e.value}

    for m in file_proto.message_type:
        walk_msg(file_proto.package, m)
    for e in file_proto.enum_type:
        result[f"{file_proto.package}.{e.name}"] = {(v.name, v.number) for v in e.value}
    for s in file_proto.service:
        result[f"{file_proto.package}.{s.name}"] = {(m.name, m.input_type, m.output_type) for m in s.method}
    return result


def test_otlp_protos_match_the_official_definitions(tmp_path):
    mine = ours(tmp_path)
    for path, module in FILES.items():
        official = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(official)
        assert mine[path].package == official.package
        got, want = shape(mine[path]), shape(official)
        # Every official message, enum and service exists here with identical fields. Newer
        # additions of ours (e.g. SpanFlags remote bits) may extend an official enum.
        for name, fields in want.items():
            assert name in got, f"{path}: {name} missing"
            assert fields <= got[name], f"{path}: {name} differs: {sorted(fields ^ got[name])}"
            if not name.endswith("SpanFlags"):
                assert fields == got[name], f"{path}: {name} differs: {sorted(fields ^ got[name])}"
