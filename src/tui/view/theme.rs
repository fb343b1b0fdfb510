//! Styles with and without colour. Every state also has a word or symbol, so `NO_COLOR`
//! loses nothing but the colour.

use ratatui::style::{Color, Modifier, Style};

use crate::tui::state::FlashLevel;

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Color::DarkGray)
        }
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// A quarantined op or an open problem: bold plus (with colour) red.
    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn marked(&self) -> Style {
        self.fg(Color::Magenta)
    }

    pub fn flash(&self, level: FlashLevel) -> Style {
        match level {
            FlashLevel::Info => Style::new(),
            FlashLevel::Success => self.good().add_modifier(Modifier::BOLD),
            FlashLevel::Error => self.bad(),
        }
    }
}
