"""One documentation page per optimizer, built from the code's own docstrings.

``python -m mpil2l optimizers`` lists the optimizers; ``python -m mpil2l optimizers NAME``
prints one page: what the optimizer does (its class docstring: the algorithm's pseudo-code
and when to use it), then every parameters type it accepts, each field with its default and
its documentation (the ``Args:`` section of the parameters namedtuple's docstring). The pages
are never written by hand, so they cannot drift from the code.

Example:
    >>> "GeneticAlgorithmOptimizer" in optimizer_classes()
    True
    >>> print(page("GeneticAlgorithm").splitlines()[0])
    GeneticAlgorithmOptimizer (mpil2l.optimizers.genetic)
"""

import inspect
import re
import textwrap

_SECTION = re.compile(r"(Args|Arguments|Attributes|Returns|Raises|Example|Examples|Note|Notes):")
_ENTRY = re.compile(r"    (\*{0,2}\w+)(?: \([^)]*\))?: ?(.*)")
_NO_DEFAULT = object()


def optimizer_classes():
    """Every optimizer `mpil2l.optimizers` exports, generational and ask/tell, by class
    name (sorted)."""
    from .. import optimizers
    from . import __all__ as names
    from .asktell import AskTellOptimizer
    from .optimizer import Optimizer

    bases = (
        Optimizer,
        AskTellOptimizer,
    )  # generational (Experiment), asynchronous (AsyncExperiment)
    classes = {}
    for name in names:
        obj = getattr(optimizers, name)
        if inspect.isclass(obj) and issubclass(obj, bases) and obj not in bases:
            classes[name] = obj
    return dict(sorted(classes.items()))


def find(name):
    """The optimizer class called `name`: its class name, or that name without the
    ``Optimizer`` suffix, in any case (``ga``-style abbreviations are not guessed).

    Raises:
        KeyError: no optimizer has that name; the message lists the known names.
    """
    classes = optimizer_classes()
    wanted = name.lower()
    for class_name, cls in classes.items():
        if wanted in (class_name.lower(), class_name.lower().removesuffix("optimizer")):
            return cls
    raise KeyError(f"no optimizer called {name!r}; known: {', '.join(classes)}")


def split_docstring(doc):
    """Splits a Google-style docstring into its free text and its sections.

    Returns:
        ``(text, sections)``: the lines outside any section (joined), and a dict mapping a
        section name (``'Args'``, ``'Example'``, ...) to its lines, without their
        indentation. A section ends at the next section header or at the next line that is
        not indented; what follows goes back to the free text.
    """
    text, sections, current = [], {}, None
    for line in inspect.cleandoc(doc or "").splitlines():
        header = _SECTION.fullmatch(line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif current is not None and (line.startswith(" ") or not line):
            current.append(line)
        else:
            current = None
            text.append(line)
    for lines in sections.values():
        while lines and not lines[-1].strip():
            lines.pop()
    return "\n".join(text).strip(), sections


def field_docs(parameters_type):
    """``{field: documentation}`` from the ``Args:`` section of a parameters namedtuple's
    docstring (continuation lines joined); fields it does not document are absent."""
    _, sections = split_docstring(parameters_type.__doc__)
    docs, current = {}, None
    for line in sections.get("Args", []):
        entry = _ENTRY.fullmatch(line)
        if entry:
            current = entry.group(1)
            docs[current] = entry.group(2).strip()
        elif current is not None and line.strip():
            docs[current] = (docs[current] + " " + line.strip()).strip()
    return docs


def parameters_types(optimizer_class):
    """The parameters namedtuple types an optimizer accepts, in its declared order."""
    types = optimizer_class.parameters_type
    if types is None:
        return ()
    return types if isinstance(types, tuple) else (types,)


def _signature(parameters_type, field):
    value = parameters_type._field_defaults.get(field, _NO_DEFAULT)
    return f"{field} (required)" if value is _NO_DEFAULT else f"{field} = {value!r}"


def _parameters_section(parameters_type):
    text, _ = split_docstring(parameters_type.__doc__)
    docs = field_docs(parameters_type)
    lines = [f"{parameters_type.__name__}", "-" * len(parameters_type.__name__)]
    if text:
        lines += [text, ""]
    for field in parameters_type._fields:
        lines.append(f"  {_signature(parameters_type, field)}")
        lines.append(
            textwrap.fill(
                docs.get(field, "UNDOCUMENTED"),
                width=92,
                initial_indent=" " * 6,
                subsequent_indent=" " * 6,
            )
        )
    return "\n".join(lines)


def page(name):
    """The documentation page of one optimizer (see the module documentation).

    Args:
        name: the optimizer's class name, with or without ``Optimizer``, any case.

    Raises:
        KeyError: no optimizer has that name.
    """
    cls = find(name)
    title = f"{cls.__name__} ({cls.__module__})"
    text, sections = split_docstring(cls.__doc__)
    parts = [title, "=" * len(title), "", text]
    if sections.get("Example"):
        parts += ["", "Example:", *sections["Example"]]
    for parameters_type in parameters_types(cls):
        parts += ["", _parameters_section(parameters_type)]
    return "\n".join(parts) + "\n"


def index():
    """One entry per optimizer: its name and the first paragraph of its docstring."""
    classes = optimizer_classes()
    width = max(map(len, classes))
    lines = []
    for class_name, cls in classes.items():
        text, _ = split_docstring(cls.__doc__)
        first = " ".join(text.split("\n\n")[0].split())
        lines.append(f"{class_name:<{width}}  {first}")
    return "\n".join(lines) + "\n"
