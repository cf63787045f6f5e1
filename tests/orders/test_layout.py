"""The shape of orders/: imports point one way, tasks have stable names, templates present.

These read the source; they fail the moment someone closes an import cycle (or hides
one in a function), gives a task a name that follows its module, or makes a template
compare an order's status to a string.
"""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

import orders
import orders.tasks  # registers the tasks, as a worker's autodiscovery does
from orders import task_names
from orders.models import OrderStatus
from pharmacy.celery import app

ORDERS = Path(orders.__file__).parent
TEMPLATES = Path(settings.BASE_DIR) / "templates" / "orders"


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in ORDERS.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = ["orders", *path.relative_to(ORDERS).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The orders modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = module.split(".") if is_package else module.split(".")[:-1]
        if node.level:
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = [
            f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target
            for alias in node.names
        ]
    found = []
    for name in names:
        while name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module:
            found.append(name)
    return found


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    graph, nested = {}, []
    for module, (path, is_package) in MODULES.items():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        graph[module] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = _targets(module, is_package, node)
                graph[module].update(targets)
                if targets and id(node) not in top:
                    nested.extend((module, node.lineno, target) for target in targets)
    return graph, nested


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if not state.get(target) and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if not state.get(module) and (found := visit(module)):
            return found
    return []


def test_no_module_of_orders_imports_another_inside_a_function():
    _, nested = _imports()
    assert nested == [], "a function-local import hides a cycle: import at the top"


def test_orders_modules_import_each_other_without_a_cycle():
    graph, _ = _imports()
    assert _cycle(graph) == []


@pytest.mark.parametrize(
    "lower, upper",
    [
        ("orders.services", ("orders.tasks", "orders.payments", "orders.views", "orders.admin")),
        ("orders.payments", ("orders.tasks", "orders.views", "orders.webhooks", "orders.admin")),
        ("orders.couriers", ("orders.services", "orders.tasks", "orders.payments")),
        ("orders.models", ("orders.",)),
        # Addresses, parcels and shipping options, which models re-exports: the bottom.
        ("orders.delivery", ("orders.",)),
    ],
)
def test_lower_layers_never_import_upper_ones(lower, upper):
    graph, _ = _imports()
    below = {
        "orders.models": (
            "orders.delivery",
            "orders.refill_models",
            "orders.payment_models",
            "orders.notification_models",
        )
    }.get(lower, ())
    wrong = {
        (module, target)
        for module, targets in graph.items()
        if module == lower or module.startswith(lower + ".")
        for target in targets
        if target.startswith(upper) and not target.startswith((lower, *below))
    }
    assert wrong == set()


TASK_NAMES = sorted(value for key, value in vars(task_names).items() if key.isupper())


def test_every_orders_task_is_registered_under_a_name_from_task_names():
    assert sorted(name for name in app.tasks if name.startswith("orders.")) == TASK_NAMES


@pytest.mark.parametrize("name", TASK_NAMES)
def test_a_task_name_says_its_topic_not_its_module(name):
    task = app.tasks[name]
    topic = task.__module__.rsplit(".", 1)[-1]  # orders.tasks.<topic>
    assert task.__module__ == f"orders.tasks.{topic}"
    assert name == f"orders.{topic}.{task.__name__}"


@pytest.mark.parametrize(
    "name",
    [
        task_names.CONFIRM_PAYMENT,
        task_names.PROCESS_PAYMENT_EVENT,
        task_names.EXPIRE_CHECKOUT_SESSION,
        task_names.RETRY_UNPROCESSED_EVENTS,
        task_names.RECONCILE_PAYMENTS,
    ],
)
def test_payment_tasks_go_to_the_payments_queue(name):
    assert app.amqp.router.route({}, name)["queue"].name == "payments"


@pytest.mark.parametrize("name", [task_names.DISPATCH_ORDER, task_names.SEND_ORDER_EMAIL])
def test_other_tasks_stay_on_the_default_queue(name):
    assert app.amqp.router.route({}, name)["queue"].name == "celery"


def test_every_periodic_task_names_a_registered_task():
    # What a worker and beat do at start: import every app's tasks module. Without it
    # the test would depend on which tests imported which tasks before it.
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


TAG = re.compile(r"{%\s*(?:if|elif)\b(.*?)%}", re.S)
STATUS_STRINGS = re.compile(
    "[\"']({})[\"']".format("|".join(re.escape(value) for value in OrderStatus.values))
)


@pytest.mark.parametrize(
    "template", sorted(p for p in TEMPLATES.rglob("*") if p.is_file()), ids=str
)
def test_order_templates_never_compare_a_status_to_a_string(template):
    conditions = TAG.findall(template.read_text())
    assert [c for c in conditions if STATUS_STRINGS.search(c)] == []


@pytest.mark.parametrize(
    "template", sorted(p for p in TEMPLATES.rglob("*") if p.is_file()), ids=str
)
def test_order_templates_take_the_refund_delay_from_one_place(template):
    assert not re.search(r"\d+\s*(?:-|to)\s*\d+\s+business days", template.read_text())
