"""Step 2 of the setup: name, contacts, data type (fixed once saved), what is sent, frequency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Label, RadioButton, RadioSet, Switch

from cdi_tui.enums import DataType
from cdi_tui.fields import DATA_TYPE_LABELS, DATA_TYPES, INTEGRATION_FIELDS, FieldSpec, field_by_key, validate_name
from cdi_tui.tui.widgets.fields import FieldInput, SwitchField
from cdi_tui.tui.widgets.frequency import FrequencyPicker

NAME_SPEC = FieldSpec("name", "Name", validate_name, "a short name for this sync")
CHANGED_ONLY_HINT = "values unchanged since they were delivered are not sent: no data points spent on them"


class DetailsStep(Vertical):
    """Typed access to step 2; posts :class:`DetailsStep.Done` and :class:`DetailsStep.Back`."""

    DEFAULT_CSS = """
    DetailsStep {
        #details-scroll { height: 1fr; padding: 0 1; }
        #details-panel, #schedule-panel { margin-top: 1; height: auto; }
        #data-type { width: 1fr; }
        .switch-row { height: auto; }
        .switch-row > Label { padding: 1 1; width: 1fr; }
    }
    """

    class Done(Message):
        """The user asks for the next step."""

    class Back(Message):
        """The user goes back to step 1."""

    def __init__(self, zone: str, clock: Callable[[], datetime]) -> None:
        super().__init__(id="step-details")
        self.zone = zone
        self.clock = clock

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="details-scroll"):
            with Vertical(id="details-panel", classes="panel compact-form") as panel:
                panel.border_title = "Sync details"
                yield FieldInput(NAME_SPEC, field_id="field-name", compact=True)
                yield FieldInput(
                    field_by_key(INTEGRATION_FIELDS, "contact_emails"),
                    field_id="field-emails",
                    placeholder="who is told about sync errors, comma-separated",
                    compact=True,
                )
                yield Label("Data type (fixed once saved)", classes="field-label")
                with RadioSet(id="data-type", compact=True):
                    for index, data_type in enumerate(DATA_TYPES):
                        yield RadioButton(DATA_TYPE_LABELS[data_type], value=index == 0, id=f"type-{data_type}")
                with Horizontal(classes="switch-row"):
                    yield Switch(False, id="update-existing-only")
                    yield Label("Update existing users only (rows for users Braze does not know are skipped)")
                yield SwitchField(
                    field_by_key(INTEGRATION_FIELDS, "send_changed_only"),
                    True,  # on by default for custom attributes
                    field_id="field-send-changed-only",
                    switch_id="send-changed-only",
                    hint=CHANGED_ONLY_HINT,
                )
            with Vertical(id="schedule-panel", classes="panel") as panel:
                panel.border_title = "Schedule"
                yield FrequencyPicker("daily at 02:00", self.zone, self.clock, id="frequency")
        with Horizontal(classes="button-bar step-bar"):
            yield Button("Back", id="back-2", compact=True)
            yield Button("Next: test connection", variant="primary", id="next-2", compact=True)

    # typed accessors ------------------------------------------------------------------------
    @property
    def name_field(self) -> FieldInput:
        return self.query_one("#field-name", FieldInput)

    @property
    def emails_field(self) -> FieldInput:
        return self.query_one("#field-emails", FieldInput)

    @property
    def data_type(self) -> DataType:
        pressed = self.query_one("#data-type", RadioSet).pressed_index
        return DATA_TYPES[pressed if pressed >= 0 else 0]

    @property
    def frequency(self) -> str:
        return self.query_one("#frequency", FrequencyPicker).value

    @property
    def update_existing_only(self) -> bool:
        return self.query_one("#update-existing-only", Switch).value

    @property
    def send_changed_only(self) -> bool | None:
        """Whether only changed attributes are sent; None for data types other than custom attributes."""
        if self.data_type != DataType.ATTRIBUTES:
            return None
        return self.query_one("#field-send-changed-only", SwitchField).value

    def lock_data_type(self) -> None:
        for button in self.query("#data-type RadioButton").results(RadioButton):
            button.disabled = True  # the data type is fixed once saved

    # events -----------------------------------------------------------------------------------
    @on(RadioSet.Changed, "#data-type")
    def _data_type_changed(self) -> None:
        self.query_one("#field-send-changed-only").display = self.data_type == DataType.ATTRIBUTES

    @on(Button.Pressed, "#next-2")
    def _next(self) -> None:
        self.post_message(self.Done())

    @on(Button.Pressed, "#back-2")
    def _back(self) -> None:
        self.post_message(self.Back())
