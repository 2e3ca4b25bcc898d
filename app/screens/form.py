"""A form for an action's parameters: typed fields, checked before the action runs.

Every action that needs more than a key (create a project, add data, train, score a file…)
asks through a ``FormScreen`` built from ``Field``s. The form converts and checks each value
(required, integer, number, one of a list) and shows what is wrong under the fields; it
returns a dict of values, or None when cancelled. The engine checks again: the form only
saves a round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

TEXT, INT, FLOAT, PATH, CHOICE, CHECK = "text", "int", "float", "path", "choice", "check"


@dataclass
class Field:
    name: str
    label: str
    kind: str = TEXT
    default: Any = None
    required: bool = False
    choices: Sequence[str] = ()  # for CHOICE
    help: str = ""
    placeholder: str = ""


class PathSuggester(Suggester):
    """Completes a path as a shell does: the first entry of the folder that starts with what
    was typed (folders end with '/'). Right arrow or End accepts it."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        path = Path(value).expanduser()
        folder, stem = (path, "") if value.endswith("/") else (path.parent, path.name)
        try:
            names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                           if p.name.startswith(stem) and not p.name.startswith("."))
        except OSError:
            return None
        if not names:
            return None
        return value + names[0][len(stem):]


def _shown(default: Any) -> str:
    """A default as the user would type it: 50, not 50.0."""
    if default is None:
        return ""
    return f"{default:g}" if isinstance(default, float) else str(default)


def refusal(check: Callable[..., object], *args: Any) -> str | None:
    """``check(*args)``'s one-line refusal (an ``MlcycleError``), or None: what a form shows
    under its fields, by the engine's own checks, before any work starts."""
    from mlcycle.store.errors import MlcycleError

    try:
        check(*args)
    except MlcycleError as exc:
        return str(exc)
    return None


class FormScreen(ModalScreen[dict[str, Any] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Run")]
    # Typing starts in the first field: a key typed at once must never reach the view below
    # (keys typed while the form is pushed wait for it: app/type_ahead.py).
    AUTO_FOCUS = "#form Input, #form Select, #form Checkbox"
    TYPE_AHEAD = True

    def __init__(self, title: str, fields: Sequence[Field], *, submit: str = "Run",
                 check: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.submit_label = submit
        self.check = check  # whole-form rule: returns what is wrong, or None

    def on_mount(self) -> None:
        # Focusing the first field scrolls it into view before the fields' height is
        # settled; start from the top, its label in sight.
        self.call_after_refresh(self.query_one("#form-fields").scroll_home, animate=False)

    def compose(self) -> ComposeResult:
        # The title, the error and the buttons stay in sight; only the fields scroll when
        # the terminal is too short for them (a long form at 80x24).
        with Vertical(id="form", classes="form"):
            yield Label(self.title_text, id="form-title", markup=False)
            with VerticalScroll(id="form-fields"):
                for field in self.fields:
                    if field.kind != CHECK:  # a tick box carries its own label
                        yield Label(field.label + (" *" if field.required else ""),
                                    classes="form-label", markup=False)
                    yield self._widget(field)
                    if field.help:
                        yield Label(field.help, classes="form-help", markup=False)
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button(self.submit_label, variant="primary", id="form-submit")
                yield Button("Cancel", id="form-cancel")

    def _widget(self, field: Field) -> Any:
        wid = f"field-{field.name}"
        if field.kind == CHOICE:
            options = [(c, c) for c in field.choices]
            # A required choice without a default starts blank: the user picks (values()
            # refuses a blank one), rather than taking the first option unseen.
            chosen = field.default in field.choices
            return Select(options, value=field.default if chosen else Select.NULL,
                          allow_blank=not (field.required and chosen), id=wid)
        if field.kind == CHECK:
            return Checkbox(field.label, value=bool(field.default), id=wid)
        return Input(
            value=_shown(field.default),
            placeholder=field.placeholder, id=wid,
            suggester=PathSuggester() if field.kind == PATH else None,
        )

    def values(self) -> dict[str, Any]:
        """The converted values; raises ValueError naming the first field that is wrong."""
        out: dict[str, Any] = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.name}")
            if field.kind == CHECK:
                out[field.name] = widget.value
                continue
            if field.kind == CHOICE:
                raw = "" if widget.is_blank() else str(widget.value)
            else:
                raw = widget.value.strip()
            if not raw:
                if field.required:
                    raise ValueError(f"{field.label} is required")
                out[field.name] = None
                continue
            out[field.name] = self._convert(field, raw)
        return out

    @staticmethod
    def _convert(field: Field, raw: str) -> Any:
        if field.kind == INT:
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"{field.label} must be a whole number, not {raw!r}") from None
        if field.kind == FLOAT:
            try:
                return float(raw)
            except ValueError:
                raise ValueError(f"{field.label} must be a number, not {raw!r}") from None
        if field.kind == PATH:
            return str(Path(raw).expanduser())
        return raw

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "form-submit":
            self.action_submit()
        elif event.button.id == "form-cancel":
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        error = self.query_one("#form-error", Static)
        try:
            values = self.values()
        except ValueError as exc:
            error.update(str(exc))
            return
        problem = self.check(values) if self.check else None
        if problem:
            error.update(problem)
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
