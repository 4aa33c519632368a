"""The framework computes every gradient by hand: no source file under minidl/ uses
torch's autograd, torch.nn, torch.optim or torch.func, and a full training step runs
under torch.inference_mode(), where autograd records nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from minidl import SGD, CrossEntropyLoss, Linear, Sequential, Tanh

PACKAGE = Path(__file__).resolve().parent.parent / "minidl"

# minidl/reference.py may hold torch reference implementations to compare against.
EXEMPT = {PACKAGE / "reference.py"}

FORBIDDEN_MODULES = ("torch.nn", "torch.optim", "torch.autograd", "torch.func")

# Tensor attributes and keyword arguments that only matter to autograd.
AUTOGRAD_NAMES = {"requires_grad", "requires_grad_", "retain_grad", "grad_fn"}


def is_forbidden(dotted_name: str) -> bool:
    return any(
        dotted_name == module or dotted_name.startswith(module + ".")
        for module in FORBIDDEN_MODULES
    )


def dotted_name(node: ast.AST) -> str | None:
    """Return "a.b.c" for the expression a.b.c, or None when it is not a plain chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def torch_aliases(tree: ast.AST) -> set[str]:
    """Return the names a module binds to torch itself ("torch", or X in import torch as X)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "torch":
                    aliases.add(alias.asname or "torch")
    return aliases


def forbidden_imports(tree: ast.AST) -> list[str]:
    """Return "line: statement" for each import of a forbidden module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [
                f"{node.module}.{alias.name}" for alias in node.names
            ]
        else:
            continue
        found += [
            f"{node.lineno}: import {name}" for name in names if is_forbidden(name)
        ]
    return found


def forbidden_attributes(tree: ast.AST) -> list[str]:
    """Return "line: name" for each use such as torch.nn.Module, T.optim.SGD (with
    import torch as T), getattr(torch, "autograd") or importlib.import_module("torch.nn")."""
    aliases = torch_aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = dotted_name(node)
            if name is None:
                continue
            root, _, rest = name.partition(".")
            if root in aliases and is_forbidden(f"torch.{rest}"):
                found.append(f"{node.lineno}: {name}")
        elif isinstance(node, ast.Call):
            strings = [
                argument.value
                for argument in node.args
                if isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
            ]
            function = dotted_name(node.func)
            if function == "getattr" and node.args:
                target = dotted_name(node.args[0])
                if target in aliases:
                    found += [
                        f"{node.lineno}: getattr(torch, {text!r})"
                        for text in strings
                        if is_forbidden(f"torch.{text}")
                    ]
            elif function in {"importlib.import_module", "import_module", "__import__"}:
                found += [
                    f"{node.lineno}: {function}({text!r})"
                    for text in strings
                    if is_forbidden(text)
                ]
    return found


def autograd_uses(tree: ast.AST) -> list[str]:
    """Return "line: name" for each x.requires_grad, x.requires_grad_(), x.grad_fn,
    x.retain_grad() or requires_grad= keyword."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in AUTOGRAD_NAMES:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg in AUTOGRAD_NAMES:
            found.append(f"{node.value.lineno}: {node.arg}=")
    return found


def framework_sources() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if path not in EXEMPT)


def parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


SOURCES = [
    pytest.param(path, id=str(path.relative_to(PACKAGE.parent)))
    for path in framework_sources()
]


def test_scan_finds_framework_files():
    names = {path.name for path in framework_sources()}
    assert {"module.py", "linear.py", "loss.py", "optim.py"} <= names


@pytest.mark.parametrize("path", SOURCES)
def test_source_imports_no_autograd_modules(path):
    found = forbidden_imports(parse(path))
    assert found == [], f"{path}: {found}"


@pytest.mark.parametrize("path", SOURCES)
def test_source_uses_no_autograd_attributes(path):
    found = forbidden_attributes(parse(path))
    assert found == [], f"{path}: {found}"


@pytest.mark.parametrize("path", SOURCES)
def test_source_uses_no_requires_grad(path):
    found = autograd_uses(parse(path))
    assert found == [], f"{path}: {found}"


# The scanner itself, on snippets it must flag and one it must pass.

FLAGGED_IMPORTS = [
    "import torch.nn",
    "import torch.nn.functional as F",
    "import torch.optim as optim",
    "from torch import nn",
    "from torch import autograd",
    "from torch.func import grad",
    "from torch.nn.functional import relu",
]

FLAGGED_ATTRIBUTES = [
    "import torch\ntorch.nn.functional.relu(x)",
    "import torch as T\nT.optim.SGD([], lr=1)",
    "import torch\ntorch.autograd.grad(y, x)",
    "import torch\ngetattr(torch, 'func')",
    "import importlib\nimportlib.import_module('torch.nn')",
]

FLAGGED_AUTOGRAD = [
    "x.requires_grad_()",
    "x.requires_grad = True",
    "torch.zeros(2, requires_grad=True)",
    "y.grad_fn",
]

CLEAN_SOURCE = """
import torch
from torch import Tensor
import minidl.nn_helpers
nn = 3
x = torch.tanh(torch.zeros(2)) @ torch.ones(2)
"""


@pytest.mark.parametrize("source", FLAGGED_IMPORTS)
def test_scanner_flags_import(source):
    assert forbidden_imports(ast.parse(source)) != []


@pytest.mark.parametrize("source", FLAGGED_ATTRIBUTES)
def test_scanner_flags_attribute(source):
    assert forbidden_attributes(ast.parse(source)) != []


@pytest.mark.parametrize("source", FLAGGED_AUTOGRAD)
def test_scanner_flags_requires_grad(source):
    assert autograd_uses(ast.parse(source)) != []


def test_scanner_passes_clean_source():
    tree = ast.parse(CLEAN_SOURCE)
    assert forbidden_imports(tree) == []
    assert forbidden_attributes(tree) == []
    assert autograd_uses(tree) == []


# Runtime


def train(steps):
    """Run forward, backward and an SGD step ``steps`` times and return the weights."""
    generator = torch.Generator().manual_seed(0)
    model = Sequential(
        Linear(2, 8, dtype=torch.float64, generator=generator),
        Tanh(),
        Linear(8, 3, dtype=torch.float64, generator=generator),
    )
    input = torch.randn(16, 2, generator=generator, dtype=torch.float64)
    target = torch.randint(3, (16,), generator=generator)
    loss = CrossEntropyLoss()
    optimizer = SGD(model.param(), lr=0.1, momentum=0.9)

    for _ in range(steps):
        optimizer.zero_grad()
        loss.forward(model.forward(input), target)
        model.backward(loss.backward())
        optimizer.step()
    return [parameter.clone() for parameter, _ in model.param()]


def test_training_step_runs_under_inference_mode():
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled()
        trained = train(steps=3)
    expected = train(steps=3)
    initial = train(steps=0)

    for index, (parameter, reference) in enumerate(zip(trained, expected)):
        assert torch.equal(parameter, reference), f"parameter {index}"
    for index, (parameter, start) in enumerate(zip(trained, initial)):
        assert not torch.equal(parameter, start), f"parameter {index} did not move"
