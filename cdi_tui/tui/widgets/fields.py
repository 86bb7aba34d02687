"""Form fields built from the option declarations in :mod:`cdi_tui.fields`.

Each field validates as typed with the same rule the config file and the CLI use, and shows
the reason beside it.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Select, Switch

from cdi_tui.fields import FieldError, FieldSpec


class SpecValidator(Validator):
    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec

    def validate(self, value: str) -> ValidationResult:
        try:
            self.spec.check(value)
        except FieldError as error:
            return self.failure(str(error))
        return self.success()


class FieldInput(Vertical):
    """A label, an input (or a select for fields with choices) and the reason it is not valid."""

    DEFAULT_CLASSES = "field"

    def __init__(
        self,
        spec: FieldSpec,
        value: Any = None,
        *,
        password: bool = False,
        field_id: str | None = None,
        placeholder: str = "",
        compact: bool = False,
        choice_labels: dict[str, str] | None = None,
    ) -> None:
        super().__init__(id=field_id or f"field-{spec.key}")
        self.compact = compact  # one row for the input, for dialogs and short terminals
        self.choice_labels = choice_labels or {}
        self.spec = spec
        self.initial = value if value is not None else spec.default
        self.password = password
        # a short example, never the help cut short by the field's width (the help is the field's tooltip)
        self.placeholder = placeholder or spec.example
        self._error_text = ""  # the reason shown beside the field ("" while it is hidden)

    def compose(self) -> ComposeResult:
        yield Label(self.spec.label, classes="field-label")
        if self.spec.choices:
            yield Select(
                [(self.choice_labels.get(choice, choice), choice) for choice in self.spec.choices],
                value=self.initial if self.initial in self.spec.choices else self.spec.choices[0],
                allow_blank=False,
                compact=self.compact,
            )
        else:
            if self.initial is None:
                initial = ""
            elif isinstance(self.initial, (list, tuple)):
                initial = ", ".join(str(item) for item in self.initial)
            else:
                initial = str(self.initial)
            field = Input(
                initial,
                placeholder=self.placeholder,
                password=self.password,
                validators=[SpecValidator(self.spec)] if not self.password else [],
                validate_on=["changed", "blur"],
                compact=self.compact,
                select_on_focus=False,  # the first key typed adds to the value, never replaces all of it
            )
            field.tooltip = self.spec.help or None
            yield field
        error = Label("", classes="field-error", markup=False)  # a reason may quote what was typed
        error.display = False
        yield error

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.validation_result)

    def _show(self, result: ValidationResult | None) -> None:
        error = self.query_one(".field-error", Label)
        valid = result is None or result.is_valid
        text = "" if result is None or result.is_valid else "; ".join(result.failure_descriptions)
        # the same reason again (most keys typed into a valid field): no update, which would lay
        # the whole screen out again
        if text != self._error_text:
            self._error_text = text
            error.update(text)
        error.display = not valid
        self.set_class(not valid, "invalid")

    @property
    def raw(self) -> str:
        if self.spec.choices:
            value = self.query_one(Select).value
            return "" if value is Select.BLANK else str(value)
        return self.query_one(Input).value

    def set_value(self, value: Any) -> None:
        if self.spec.choices:
            self.query_one(Select).value = value
        else:
            self.query_one(Input).value = "" if value is None else str(value)

    def value(self) -> Any:
        """The checked value; shows the reason and raises :class:`FieldError` when not valid."""
        try:
            if self.password:
                if not self.raw:
                    if not self.spec.required:
                        return None
                    raise FieldError("required")
                return self.raw
            return self.spec.check(self.raw)
        except FieldError as error:
            self.show_error(str(error))
            raise

    def show_error(self, reason: str) -> None:
        """Show why the value is not valid, beside the field."""
        label = self.query_one(".field-error", Label)
        self._error_text = reason
        label.update(reason)
        label.display = True
        self.add_class("invalid")


class SwitchField(Horizontal):
    """A yes/no option as a switch, labelled from its declaration, with an optional hint."""

    DEFAULT_CSS = """
    SwitchField {
        height: auto;
        & > Label { padding: 1 1; width: 1fr; }
    }
    """

    def __init__(
        self, spec: FieldSpec, value: bool, *, field_id: str | None = None, switch_id: str | None = None, hint: str = ""
    ) -> None:
        super().__init__(id=field_id or f"field-{spec.key}")
        self.spec = spec
        self.initial = value
        self.switch_id = switch_id
        self.hint = hint

    def compose(self) -> ComposeResult:
        yield Switch(self.initial, id=self.switch_id)
        yield Label(f"{self.spec.label} ({self.hint})" if self.hint else self.spec.label)

    @property
    def switch(self) -> Switch:
        return self.query_one(Switch)

    @property
    def value(self) -> bool:
        return self.switch.value

    def relabel(self, label: str, hint: str = "") -> None:
        """Say what the switch does in other words (the same option, for another data type)."""
        self.query_one(Label).update(f"{label} ({hint})" if hint else label)


def collect(fields: list[FieldInput]) -> dict[str, Any] | None:
    """Every field's value by key, or None (with each reason shown) when any is not valid."""
    values: dict[str, Any] = {}
    ok = True
    for field in fields:
        try:
            values[field.spec.key] = field.value()
        except FieldError:
            ok = False
    return values if ok else None
