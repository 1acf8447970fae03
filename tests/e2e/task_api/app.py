"""The Task API of the user story: "creating a task takes 3 s, it used to take 200 ms".

Instrumented exactly as a user would: automatic FastAPI instrumentation from
`opentelemetry-instrument`, plus custom spans for the steps of creating a task."""

import time

from fastapi import FastAPI
from opentelemetry import trace
from pydantic import BaseModel

app = FastAPI()
tracer = trace.get_tracer("task-api.handlers")
tasks = {}


class Task(BaseModel):
    title: str


@app.post("/tasks")
def create_task(task: Task):
    with tracer.start_as_current_span("create_task") as span:
        task_id = len(tasks) + 1
        span.set_attribute("task.id", task_id)
        with tracer.start_as_current_span("validate_task") as v:
            v.set_attribute("task.title.length", len(task.title))
            if not task.title:
                raise ValueError("empty title")
        with tracer.start_as_current_span("save_to_database") as db:
            db.set_attribute("db.system", "postgresql")
            time.sleep(0.1)  # the slow step
            tasks[task_id] = task.title
        with tracer.start_as_current_span("publish_event") as ev:
            ev.set_attribute("event.type", "task.created")
        return {"id": task_id, "title": task.title}
