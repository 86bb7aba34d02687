"""Step 2 of the setup: name, the Braze workspace, contacts, data type (chosen, never preselected; it
can change until activation), what is sent, frequency (its next runs in the workspace's time zone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, RadioButton, RadioSet, Select, Switch

from cdi_tui.braze.rules import DEFAULT_DELETE_PRIORITIZATION
from cdi_tui.config import CHANGED_ONLY_TYPES
from cdi_tui.enums import DataType
from cdi_tui.fields import (
    DATA_TYPE_LABELS,
    DATA_TYPES,
    DEFAULT_FREQUENCY,
    INTEGRATION_FIELDS,
    FieldSpec,
    field_by_key,
    validate_name,
)
from cdi_tui.tui.widgets.fields import FieldInput, SwitchField
from cdi_tui.tui.widgets.frequency import FrequencyPicker
from cdi_tui.tui.widgets.scroll import Scroll

NAME_SPEC = FieldSpec("name", "Name", validate_name, "a short name for this sync")
CHANGED_ONLY_HINT = "values unchanged since they were delivered are not sent: no data points spent on them"
CHANGED_ITEMS_LABEL = "Send only changed items"
CHANGED_ITEMS_HINT = "an item unchanged since it was delivered is not sent again"


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

    def __init__(
        self,
        zone: str,
        clock: Callable[[], datetime],
        frequency: str | None = None,
        zones: dict[str, str] | None = None,
        workspace: str | None = None,
    ) -> None:
        """
        Args:
            zones: the Braze workspaces, with their time zones; with several, step 2 offers the
                choice (with one, or none yet, there is nothing to choose: ``workspace`` it is).
            workspace: the one chosen at first.
        """
        super().__init__(id="step-details")
        self.zone = zones.get(workspace, zone) if zones and workspace else zone
        self.clock = clock
        self.initial_frequency = frequency or DEFAULT_FREQUENCY
        self.zones = zones or {}
        self.initial_workspace = workspace

    def compose(self) -> ComposeResult:
        with Scroll(id="details-scroll"):
            with Vertical(id="details-panel", classes="panel compact-form") as panel:
                panel.border_title = "Sync details"
                yield FieldInput(NAME_SPEC, field_id="field-name", compact=True)
                if len(self.zones) > 1:
                    spec = replace(field_by_key(INTEGRATION_FIELDS, "workspace"), choices=tuple(sorted(self.zones)))
                    yield FieldInput(spec, self.initial_workspace, field_id="field-workspace", compact=True)
                yield FieldInput(
                    field_by_key(INTEGRATION_FIELDS, "contact_emails"),
                    field_id="field-emails",
                    placeholder="who is told about sync errors, comma-separated",
                    compact=True,
                )
                yield Label("Data type (it can change until activation)", classes="field-label")
                with RadioSet(id="data-type", compact=True):
                    for data_type in DATA_TYPES:
                        yield RadioButton(DATA_TYPE_LABELS[data_type], id=f"type-{data_type}")
                error = Label("", id="data-type-error", classes="field-error")
                error.display = False
                yield error
                yield FieldInput(
                    field_by_key(INTEGRATION_FIELDS, "catalog"),
                    field_id="field-catalog",
                    placeholder="the catalog in Braze (default: the integration's name)",
                    compact=True,
                )
                with Horizontal(classes="switch-row", id="update-existing-row"):
                    yield Switch(False, id="update-existing-only")
                    yield Label("Update existing users only (rows for users Braze does not know are skipped)")
                yield SwitchField(
                    field_by_key(INTEGRATION_FIELDS, "send_changed_only"),
                    True,  # on by default for custom attributes
                    field_id="field-send-changed-only",
                    switch_id="send-changed-only",
                    hint=CHANGED_ONLY_HINT,
                )
                yield FieldInput(
                    field_by_key(INTEGRATION_FIELDS, "delete_prioritization"),
                    ",".join(DEFAULT_DELETE_PRIORITIZATION),
                    field_id="field-delete-prioritization",
                    compact=True,
                )
            with Vertical(id="schedule-panel", classes="panel") as panel:
                panel.border_title = "Schedule"
                yield FrequencyPicker(self.initial_frequency, self.zone, self.clock, id="frequency")
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
    def workspace(self) -> str | None:
        """The Braze workspace chosen (with a single workspace, or none yet, the one given at first)."""
        fields = list(self.query("#field-workspace").results(FieldInput))
        return (fields[0].raw or None) if fields else self.initial_workspace

    def set_workspace(self, name: str) -> None:
        for field in self.query("#field-workspace").results(FieldInput):
            if name in field.spec.choices:
                field.set_value(name)

    @on(Select.Changed, "#field-workspace Select")
    def _workspace_changed(self) -> None:
        chosen = self.workspace
        if chosen is not None and chosen in self.zones:
            self.query_one("#frequency", FrequencyPicker).set_zone(self.zones[chosen])

    @property
    def data_type(self) -> DataType | None:
        """The data type chosen; None until one is (none is preselected: the table decides)."""
        for data_type in DATA_TYPES:  # the buttons themselves: the set learns of a change a message later
            if self.query_one(f"#type-{data_type}", RadioButton).value:
                return data_type
        return None

    def set_data_type(self, data_type: DataType) -> None:
        self.query_one(f"#type-{data_type}", RadioButton).value = True

    def set_options(
        self,
        update_existing_only: bool,
        send_changed_only: bool,
        delete_prioritization: tuple[str, ...] | None = None,
        catalog: str | None = None,
    ) -> None:
        self.query_one("#update-existing-only", Switch).value = update_existing_only
        self.query_one("#field-send-changed-only", SwitchField).switch.value = send_changed_only
        if delete_prioritization is not None:
            self.prioritization_field.set_value(",".join(delete_prioritization))
        if catalog is not None:
            self.catalog_field.set_value(catalog)

    @property
    def catalog_field(self) -> FieldInput:
        """Catalogs: the Braze catalog the items go to (empty: the integration's name)."""
        return self.query_one("#field-catalog", FieldInput)

    @property
    def prioritization_field(self) -> FieldInput:
        """Deletes by email or phone: which user Braze deletes when several share the address."""
        return self.query_one("#field-delete-prioritization", FieldInput)

    def require_data_type(self) -> DataType | None:
        """The data type chosen, or None with the reason shown beside the choice."""
        chosen = self.data_type
        error = self.query_one("#data-type-error", Label)
        error.display = chosen is None
        error.update(
            "" if chosen is not None else "choose what the table's rows are: attributes, events, purchases, deletes or items"
        )
        if chosen is None:
            self.query_one("#data-type", RadioSet).focus()
        return chosen

    @property
    def frequency(self) -> str:
        return self.query_one("#frequency", FrequencyPicker).value

    @property
    def update_existing_only(self) -> bool:
        return self.query_one("#update-existing-only", Switch).value

    @property
    def send_changed_only(self) -> bool | None:
        """Whether only changed attributes (or items) are sent; None for data types other than
        custom attributes and catalogs."""
        if self.data_type not in CHANGED_ONLY_TYPES:
            return None
        return self.query_one("#field-send-changed-only", SwitchField).value

    # events -----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._data_type_changed()

    @on(RadioSet.Changed, "#data-type")
    def _data_type_changed(self) -> None:
        changed_only = self.query_one("#field-send-changed-only", SwitchField)
        changed_only.display = self.data_type in CHANGED_ONLY_TYPES
        if self.data_type == DataType.CATALOGS:
            changed_only.relabel(CHANGED_ITEMS_LABEL, CHANGED_ITEMS_HINT)
        else:
            changed_only.relabel(changed_only.spec.label, CHANGED_ONLY_HINT)
        self.prioritization_field.display = self.data_type == DataType.DELETES
        self.catalog_field.display = self.data_type == DataType.CATALOGS
        self.query_one("#update-existing-row").display = self.data_type != DataType.CATALOGS
        if self.data_type is not None:
            self.query_one("#data-type-error").display = False

    @on(Button.Pressed, "#next-2")
    def _next(self) -> None:
        self.post_message(self.Done())

    @on(Button.Pressed, "#back-2")
    def _back(self) -> None:
        self.post_message(self.Back())
