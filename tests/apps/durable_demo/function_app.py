"""A small Durable Functions app that exercises the standalone host (tests only).

Activities that must remember something across calls (attempt counters, execution logs) write
files under DEMO_SCRATCH_DIR, so a test can see what really ran, even across host restarts.
"""

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _scratch(name: str) -> Path:
    folder = Path(os.environ["DEMO_SCRATCH_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


# -- HTTP ----------------------------------------------------------------------------------------


@app.route(route="health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse('{"status": "ok"}', mimetype="application/json")


@app.route(route="start/{name}/{instanceId?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    try:
        instance_id = await client.start_new(
            req.route_params["name"], req.route_params.get("instanceId"), payload
        )
    except Exception as exc:
        return func.HttpResponse(
            json.dumps({"error": str(exc)}), status_code=409, mimetype="application/json"
        )
    return client.create_check_status_response(req, instance_id)


@app.route(route="client/{instanceId}/{op}", methods=["POST", "GET"])
@app.durable_client_input(client_name="client")
async def client_ops(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Drive the SDK client's raise_event / terminate / get_status / purge from a test."""
    instance_id, op = req.route_params["instanceId"], req.route_params["op"]
    if op == "raise":
        await client.raise_event(instance_id, req.params["event"], req.get_json())
        result = {"raised": True}
    elif op == "terminate":
        await client.terminate(instance_id, req.params.get("reason", "test"))
        result = {"terminated": True}
    elif op == "status":
        status = await client.get_status(instance_id)
        result = {
            "runtimeStatus": status.runtime_status.value if status.runtime_status else None,
            "customStatus": status.custom_status,
            "output": status.output,
        }
    elif op == "purge":
        purged = await client.purge_instance_history(instance_id)
        result = {"instancesDeleted": purged.instances_deleted}
    else:
        return func.HttpResponse("unknown op", status_code=400)
    return func.HttpResponse(json.dumps(result), mimetype="application/json")


# -- orchestrators ------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    """Square 0..n-1 in parallel and return the squares and their sum."""
    settings = context.get_input() or {}
    n = int(settings.get("n", 10))
    delay = float(settings.get("sleep", 0))
    context.set_custom_status({"phase": "fan-out", "n": n})
    tasks = [
        context.call_activity("square", {"i": i, "sleep": delay, "log": settings.get("log")})
        for i in range(n)
    ]
    results = yield context.task_all(tasks)
    context.set_custom_status({"phase": "done", "n": n})
    return {"squares": results, "sum": sum(results)}


@app.orchestration_trigger(context_name="context")
def wait_for_go(context: df.DurableOrchestrationContext):
    """Show a custom status, then wait for the external event 'go' and return its data."""
    context.set_custom_status({"phase": "waiting", "instance": context.instance_id})
    data = yield context.wait_for_external_event("go")
    context.set_custom_status({"phase": "released"})
    return {"received": data}


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    """Call an activity that fails `failures` times, with a retry policy of `attempts`."""
    settings = context.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=200, max_number_of_attempts=settings["attempts"]
    )
    result = yield context.call_activity_with_retry("flaky", options, settings)
    return result


@app.orchestration_trigger(context_name="context")
def catches_failure(context: df.DurableOrchestrationContext):
    """An activity exception reaches the orchestrator, which reports it."""
    try:
        yield context.call_activity("explode", "caught")
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    """An uncaught activity exception ends the orchestration Failed."""
    yield context.call_activity("explode", context.get_input())
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def sleeps(context: df.DurableOrchestrationContext):
    """A durable timer: return the orchestration time before and after it fired."""
    seconds = float(context.get_input() or 1)
    before = context.current_utc_datetime
    yield context.create_timer(before + timedelta(seconds=seconds))
    after = context.current_utc_datetime
    return {"before": before.isoformat(), "after": after.isoformat()}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    """Run fan_out as a sub-orchestration and add one to its sum."""
    child = yield context.call_sub_orchestrator("fan_out", {"n": context.get_input()})
    return {"childSum": child["sum"], "plusOne": child["sum"] + 1}


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    """Count to `target` by continuing as new once per step."""
    state = context.get_input()
    if state["count"] >= state["target"]:
        return state
    yield context.call_activity("square", {"i": state["count"]})
    context.continue_as_new({"count": state["count"] + 1, "target": state["target"]})
    return None


@app.orchestration_trigger(context_name="context")
def big_payload(context: df.DurableOrchestrationContext):
    """Move a payload larger than a table property through input, activity and output."""
    text = context.get_input()
    echoed = yield context.call_activity("echo", text)
    return {"length": len(echoed), "text": echoed}


@app.orchestration_trigger(context_name="context")
def survives_crash(context: df.DurableOrchestrationContext):
    """An activity whose worker process dies mid-run is run again."""
    result = yield context.call_activity("crash_once", context.get_input())
    return result


# -- activities ---------------------------------------------------------------------------------


@app.activity_trigger(input_name="item")
def square(item: dict) -> int:
    if item.get("sleep"):
        time.sleep(float(item["sleep"]))
    if item.get("log"):
        with _scratch(item["log"]).open("a") as handle:
            handle.write(f"{item['i']}\n")
    return int(item["i"]) ** 2


@app.activity_trigger(input_name="settings")
def flaky(settings: dict) -> dict:
    counter = _scratch(f"flaky-{settings['key']}")
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt <= int(settings["failures"]):
        raise RuntimeError(f"flaky attempt {attempt} failed")
    return {"attempt": attempt}


@app.activity_trigger(input_name="text")
def echo(text: str) -> str:
    return text


@app.activity_trigger(input_name="key")
def crash_once(key: str) -> dict:
    marker = _scratch(f"crashed-{key}")
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(3)  # the whole worker process dies, as with a segfault or OOM kill
    return {"pid": os.getpid(), "crashedPid": int(marker.read_text())}


@app.activity_trigger(input_name="label")
def explode(label: str) -> str:
    raise ValueError(f"boom-{label}")


# -- timer --------------------------------------------------------------------------------------


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    with _scratch("ticks").open("a") as handle:
        handle.write(f"{time.time()} {timer.past_due}\n")
