//! The conflict pane: open conflicts first, the resolutions each kind allows, and a
//! confirmation form (with a note) before a `resolve_conflict` op is queued.

use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::action::Command;
use super::keymap::KeyCmd;
use super::model::ConflictItem;
use super::state::{FlashLevel, Popup, State};
use crate::domain::conflict::{
    actions_for as domain_actions, ActionNeeds as Needs, ResolutionAction,
};
use crate::domain::product::validate_code;

/// The resolutions a conflict kind allows, by name (from the domain's list).
pub fn actions_for(kind: &str) -> Vec<&'static str> {
    domain_actions(kind)
        .unwrap_or_default()
        .iter()
        .map(|a| a.name)
        .collect()
}

/// What an action of `kind` needs besides the note, and its one-line description.
pub fn action_info(kind: &str, action: &str) -> Option<ResolutionAction> {
    domain_actions(kind)?
        .iter()
        .find(|a| a.name == action)
        .copied()
}

#[derive(Debug, Clone, Default)]
pub struct ConflictsState {
    /// Needing action first, then queued, then resolved (history).
    pub items: Vec<ConflictItem>,
    pub selected: usize,
    pub loaded: bool,
}

impl ConflictsState {
    pub fn selected_item(&self) -> Option<&ConflictItem> {
        self.items.get(self.selected)
    }

    pub fn open_count(&self) -> usize {
        self.items.iter().filter(|c| c.needs_action()).count()
    }
}

/// Which field of the form has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    Value,
    Note,
}

/// The confirmation step: what will be queued, plus the qty/sku it needs and a note.
#[derive(Debug, Clone)]
pub struct ResolveForm {
    pub conflict_id: String,
    pub kind: String,
    pub sku: Option<String>,
    pub action: &'static str,
    pub needs: Needs,
    pub value: Input,
    pub note: Input,
    pub field: FormField,
}

impl PartialEq for ResolveForm {
    fn eq(&self, other: &Self) -> bool {
        self.conflict_id == other.conflict_id
            && self.action == other.action
            && self.value.value() == other.value.value()
            && self.note.value() == other.note.value()
            && self.field == other.field
    }
}

fn rank(c: &ConflictItem) -> u8 {
    if c.needs_action() {
        0
    } else if c.status == "open" {
        1
    } else {
        2
    }
}

pub fn on_loaded(st: &mut State, mut items: Vec<ConflictItem>) {
    let keep = st.conflicts.selected_item().map(|c| c.id.clone());
    items.sort_by_key(rank);
    let c = &mut st.conflicts;
    c.items = items;
    c.loaded = true;
    c.selected = keep
        .and_then(|id| c.items.iter().position(|i| i.id == id))
        .unwrap_or(0)
        .min(c.items.len().saturating_sub(1));
}

pub fn on_key(st: &mut State, cmd: Option<KeyCmd>) -> Vec<Command> {
    let c = &mut st.conflicts;
    match cmd {
        Some(KeyCmd::Up) => c.selected = c.selected.saturating_sub(1),
        Some(KeyCmd::Down) if c.selected + 1 < c.items.len() => c.selected += 1,
        Some(KeyCmd::Resolve(action)) => open_form(st, action),
        _ => {}
    }
    Vec::new()
}

fn open_form(st: &mut State, action: &'static str) {
    let Some(item) = st.conflicts.selected_item() else {
        st.flash(FlashLevel::Info, "no conflicts");
        return;
    };
    if !item.needs_action() {
        let why = match &item.queued_action {
            Some(a) => format!("a resolution ({a}) is already queued"),
            None => format!("it is {}", item.status),
        };
        st.flash(FlashLevel::Error, format!("nothing to resolve: {why}"));
        return;
    }
    let allowed = actions_for(&item.kind);
    if !allowed.contains(&action) {
        st.flash(
            FlashLevel::Error,
            format!("{} allows: {}", item.kind, allowed.join(", ")),
        );
        return;
    }
    let needs = action_info(&item.kind, action).map_or(Needs::Nothing, |a| a.needs);
    let form = ResolveForm {
        conflict_id: item.id.clone(),
        kind: item.kind.clone(),
        sku: item.sku.clone(),
        action,
        needs,
        value: Input::default(),
        note: Input::default(),
        field: if needs == Needs::Nothing {
            FormField::Note
        } else {
            FormField::Value
        },
    };
    st.popup = Some(Popup::Resolve(form));
}

/// Keys inside the confirmation form.
pub fn on_form_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let Some(Popup::Resolve(form)) = &mut st.popup else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Cancel) => {
            st.popup = None;
            st.flash(FlashLevel::Info, "nothing queued");
        }
        Some(KeyCmd::NextField) => {
            if form.needs != Needs::Nothing {
                form.field = match form.field {
                    FormField::Value => FormField::Note,
                    FormField::Note => FormField::Value,
                };
            }
        }
        Some(KeyCmd::Submit) => return submit(st),
        _ => {
            let input = match form.field {
                FormField::Value => &mut form.value,
                FormField::Note => &mut form.note,
            };
            input.handle_event(&crossterm::event::Event::Key(*key));
        }
    }
    Vec::new()
}

fn submit(st: &mut State) -> Vec<Command> {
    let Some(Popup::Resolve(form)) = &st.popup else {
        return Vec::new();
    };
    let value = form.value.value().trim().to_string();
    let note = form.note.value().trim().to_string();
    let (qty, sku) = match form.needs {
        Needs::Nothing => (None, None),
        Needs::Qty => match value.parse::<i64>() {
            Ok(q) if q >= 0 => (Some(q), None),
            _ => {
                st.flash(FlashLevel::Error, "type the counted quantity (0 or more)");
                return Vec::new();
            }
        },
        Needs::Sku => match validate_code("sku", &value) {
            Ok(()) => (None, Some(value)),
            Err(e) => {
                st.flash(FlashLevel::Error, e.to_string());
                return Vec::new();
            }
        },
    };
    let cmd = Command::QueueResolution {
        conflict_id: form.conflict_id.clone(),
        action: form.action.to_string(),
        qty,
        sku,
        note: (!note.is_empty()).then_some(note),
    };
    st.popup = None;
    st.flash(FlashLevel::Info, "queuing the resolution…");
    vec![cmd]
}

pub fn on_queued(st: &mut State, result: Result<(String, i64), String>) -> Vec<Command> {
    match result {
        Ok((id, seq)) => {
            let short: String = id.chars().take(8).collect();
            st.flash(
                FlashLevel::Success,
                format!("resolution of {short} queued as #{seq}"),
            );
            vec![Command::LoadConflicts, Command::LoadStatus, st.queue.load()]
        }
        Err(e) => {
            st.flash(FlashLevel::Error, format!("not queued: {e}"));
            Vec::new()
        }
    }
}
