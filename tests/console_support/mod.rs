//! Shared fixtures for the console tests: a fixed clock, a small catalog, key helpers and an
//! in-memory stand-in for the store worker that answers the console's commands.
#![allow(dead_code)]

pub mod pty;

use chrono::{DateTime, FixedOffset, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kassa::domain::sale::SaleLine;
use kassa::domain::{CompletedSale, OpKind, OpState, Product, Tender};
use kassa::timefmt::Zone;
use kassa::tui::action::{Action, Command};
use kassa::tui::model::{
    ConflictItem, LocalStatusView, OpDetailView, QueueFilterView, QueueItem, ReceiptLine,
    ReceiptView, RefundOrder, RefundSaved, SaleSaved, VoidSaved,
};
use kassa::tui::state::{Settings, State};
use kassa::tui::{draw, update};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T17:30:00Z")
        .expect("fixed time")
        .with_timezone(&Utc)
}

/// The till's time zone in these tests: UTC+01:00, so that a snapshot shows local times
/// (17:00:42 stored is 18:00:42 on screen) whatever zone the machine running them is in.
pub fn zone() -> Zone {
    Zone::Fixed(FixedOffset::east_opt(3600).expect("a valid offset"))
}

pub fn product(sku: &str, barcode: &str, name: &str, price: i64, rate: i64) -> Product {
    Product {
        sku: sku.into(),
        barcode: Some(barcode.into()),
        name: name.into(),
        price_cents: price,
        tax_rate_bp: rate,
        price_includes_tax: true,
        active: true,
    }
}

pub fn catalog() -> Vec<Product> {
    vec![
        product("4001", "4000000000017", "Milk 1L", 119, 700),
        product("4002", "4000000000024", "Rye bread 500g", 249, 700),
        product("4003", "4000000000031", "Coffee beans 250g", 599, 1900),
        product("4004", "4000000000048", "Dish soap", 189, 1900),
    ]
}

pub fn state(width: u16, height: u16, technician: bool) -> State {
    let settings = Settings {
        technician,
        color: false,
        zone: zone(),
        ..Settings::default()
    };
    State::new(settings, now(), width, height)
}

pub fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Keys for a string: `\n` is Enter, everything else a character.
pub fn keys(text: &str) -> Vec<Action> {
    text.chars()
        .map(|c| match c {
            '\n' => key(KeyCode::Enter),
            c => key(KeyCode::Char(c)),
        })
        .collect()
}

/// Renders the state into a test terminal of the given size.
pub fn render(st: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    term.draw(|f| draw(f, st)).expect("draw");
    term
}

pub fn screen_text(st: &State, width: u16, height: u16) -> String {
    format!("{}", render(st, width, height).backend())
}

/// A sale the fake store committed, with what was refunded of it.
#[derive(Debug, Clone)]
pub struct FakeSale {
    pub seq: i64,
    pub sale_id: String,
    pub created_at: String,
    pub paid_cents: i64,
    pub lines: Vec<SaleLine>,
    pub tenders: Vec<Tender>,
    /// Refunded units per line (same order as `lines`).
    pub refunded: Vec<i64>,
    pub voided: bool,
}

impl FakeSale {
    pub fn view(&self) -> ReceiptView {
        ReceiptView {
            sale_id: self.sale_id.clone(),
            seq: Some(self.seq),
            created_at: self.created_at.clone(),
            paid_cents: self.paid_cents,
            tenders: self.tenders.clone(),
            voided: self.voided,
            lines: self
                .lines
                .iter()
                .zip(&self.refunded)
                .map(|(l, r)| ReceiptLine {
                    line: l.clone(),
                    refunded_qty: *r,
                })
                .collect(),
        }
    }
}

/// Largest refund without a receipt the fake store takes, like the store's configured limit.
pub const BLIND_LIMIT_CENTS: i64 = 5000;

/// An in-memory stand-in for the store worker: answers every command like the store would.
pub struct FakeStore {
    pub catalog: Vec<Product>,
    pub ops: Vec<QueueItem>,
    pub conflicts: Vec<ConflictItem>,
    pub sales: Vec<FakeSale>,
    /// Refunds committed, as ordered.
    pub refunds: Vec<RefundOrder>,
    pub next_seq: i64,
    pub commands: Vec<Command>,
    /// Server catalog products the till left out, as the store would count them.
    pub skipped_products: i64,
}

impl Default for FakeStore {
    fn default() -> Self {
        FakeStore {
            catalog: catalog(),
            ops: Vec::new(),
            conflicts: Vec::new(),
            sales: Vec::new(),
            refunds: Vec::new(),
            next_seq: 1,
            commands: Vec::new(),
            skipped_products: 0,
        }
    }
}

impl FakeStore {
    pub fn push_op(&mut self, kind: OpKind, state: OpState, total: Option<i64>) -> i64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ops.push(QueueItem {
            seq,
            kind,
            state,
            created_at: format!("2026-11-28T17:{:02}:{:02}.000Z", (seq / 60) % 60, seq % 60),
            total_cents: total,
            attempts: if state == OpState::Rejected { 1 } else { 0 },
            last_error: None,
            reject_code: (state == OpState::Rejected).then(|| "invalid_payload".to_string()),
        });
        seq
    }

    fn filtered(&self, filter: QueueFilterView) -> Vec<&QueueItem> {
        self.ops
            .iter()
            .rev()
            .filter(|o| match filter {
                QueueFilterView::All => true,
                QueueFilterView::Pending => o.state == OpState::Pending,
                QueueFilterView::Rejected => o.state == OpState::Rejected,
                QueueFilterView::Sent => o.state == OpState::Sent,
            })
            .collect()
    }

    pub fn status(&self) -> LocalStatusView {
        let count = |s| self.ops.iter().filter(|o| o.state == s).count() as i64;
        LocalStatusView {
            pending: count(OpState::Pending),
            sent: count(OpState::Sent),
            rejected: count(OpState::Rejected),
            oldest_pending_age_s: (count(OpState::Pending) > 0).then_some(42),
            conflicts_open: self.conflicts.iter().filter(|c| c.status == "open").count() as i64,
            last_sync_at: None,
            last_error: None,
            skipped_products: self.skipped_products,
        }
    }

    /// Answers one command with the action the event loop would feed back.
    pub fn answer(&mut self, cmd: &Command) -> Option<Action> {
        self.commands.push(cmd.clone());
        Some(match cmd {
            Command::LookupCode { code, qty } => Action::ProductLooked {
                code: code.clone(),
                qty: *qty,
                product: self
                    .catalog
                    .iter()
                    .find(|p| p.sku == *code || p.barcode.as_deref() == Some(code))
                    .cloned(),
            },
            Command::SearchProducts { query } => Action::SearchResults {
                query: query.clone(),
                products: self
                    .catalog
                    .iter()
                    .filter(|p| p.name.to_lowercase().contains(&query.to_lowercase()))
                    .cloned()
                    .collect(),
            },
            Command::CommitSale { cart, settlement } => {
                let total = cart.totals().ok()?.total_cents;
                let seq = self.push_op(OpKind::Sale, OpState::Pending, Some(total));
                let sale_id = format!("5a1e0000-0000-4000-8000-{seq:012}");
                let created_at = self.ops.last().map(|o| o.created_at.clone())?;
                let sale = CompletedSale::new(
                    uuid::Uuid::parse_str(&sale_id).ok()?,
                    created_at.clone(),
                    cart,
                    settlement,
                )
                .ok()?;
                self.sales.push(FakeSale {
                    seq,
                    sale_id,
                    created_at,
                    paid_cents: sale.due_cents(),
                    refunded: vec![0; sale.lines.len()],
                    lines: sale.lines,
                    tenders: sale.tenders,
                    voided: false,
                });
                Action::SaleCommitted(Ok(SaleSaved {
                    seq,
                    total_cents: total,
                    due_cents: settlement.due_cents,
                    change_cents: settlement.change_cents,
                }))
            }
            Command::LoadQueue {
                filter,
                offset,
                limit,
            } => {
                let all = self.filtered(*filter);
                Action::QueueLoaded {
                    filter: *filter,
                    offset: *offset,
                    total: all.len(),
                    rows: all
                        .into_iter()
                        .skip(*offset)
                        .take(*limit)
                        .cloned()
                        .collect(),
                }
            }
            Command::LoadOpDetail { seq } => {
                Action::OpDetailLoaded(self.ops.iter().find(|o| o.seq == *seq).map(|o| {
                    OpDetailView {
                        item: o.clone(),
                        op_id: format!("00000000-0000-4000-8000-{:012}", o.seq),
                        payload: serde_json::json!({"seq": o.seq}),
                    }
                }))
            }
            Command::RetryOp { seq } => {
                let mut requeued = false;
                for o in &mut self.ops {
                    if o.seq == *seq && o.state == OpState::Rejected {
                        o.state = OpState::Pending;
                        o.reject_code = None;
                        requeued = true;
                    }
                }
                Action::OpRetried {
                    seq: *seq,
                    requeued,
                }
            }
            Command::LoadConflicts => Action::ConflictsLoaded(self.conflicts.clone()),
            Command::QueueResolution {
                conflict_id,
                action,
                ..
            } => {
                let seq = self.push_op(OpKind::ResolveConflict, OpState::Pending, None);
                for c in &mut self.conflicts {
                    if c.id == *conflict_id {
                        c.queued_action = Some(action.clone());
                    }
                }
                Action::ResolutionQueued(Ok((conflict_id.clone(), seq)))
            }
            Command::LoadStatus => Action::StatusLoaded(self.status()),
            Command::LookupReceipt { receipt, purpose } => Action::ReceiptLooked {
                receipt: receipt.clone(),
                purpose: *purpose,
                result: Ok(self.find_sale(receipt).map(|i| self.sales[i].view())),
            },
            Command::LookupReturnItem { code, qty } => Action::ReturnItemLooked {
                code: code.clone(),
                qty: *qty,
                product: self
                    .catalog
                    .iter()
                    .find(|p| p.sku == *code || p.barcode.as_deref() == Some(code))
                    .cloned(),
            },
            Command::CommitRefund { order } => Action::RefundCommitted(self.refund(order)),
            Command::CommitVoid { sale_id, .. } => Action::VoidCommitted(self.void(sale_id)),
            Command::Quit | Command::SyncNow => return None,
        })
    }

    /// The sale a receipt number names: its seq, its sale id, or the id without hyphens.
    pub fn find_sale(&self, receipt: &str) -> Option<usize> {
        let r = receipt.trim().trim_start_matches('#').to_lowercase();
        self.sales.iter().position(|s| {
            r.parse::<i64>().ok() == Some(s.seq)
                || s.sale_id == r
                || s.sale_id.replace('-', "") == r
        })
    }

    /// Checks and records a refund like the store: refused (nothing changes) when it takes
    /// back more than is left, from a voided or unknown sale, or without a receipt over the limit.
    fn refund(&mut self, order: &RefundOrder) -> Result<RefundSaved, String> {
        let paid = order_amount(self, order)?;
        if let Some(id) = &order.sale_id {
            let i = self
                .find_sale(id)
                .ok_or_else(|| format!("unknown receipt {id}"))?;
            let sale = &self.sales[i];
            if sale.voided {
                return Err(format!("sale #{} was voided", sale.seq));
            }
            for l in &order.lines {
                let n = sale
                    .lines
                    .iter()
                    .position(|s| Some(s.line_no) == l.original_line_no)
                    .ok_or("no such line")?;
                let left = sale.lines[n].qty - sale.refunded[n];
                if l.qty > left {
                    return Err(format!(
                        "line {}: {} asked, only {left} left to refund",
                        sale.lines[n].line_no, l.qty
                    ));
                }
            }
            let sale = &mut self.sales[i];
            for l in &order.lines {
                if let Some(n) = sale
                    .lines
                    .iter()
                    .position(|s| Some(s.line_no) == l.original_line_no)
                {
                    sale.refunded[n] += l.qty;
                }
            }
        } else if paid > BLIND_LIMIT_CENTS {
            return Err("over the limit for a refund without a receipt (50.00)".into());
        }
        let seq = self.push_op(refund_kind(), OpState::Pending, Some(paid));
        self.refunds.push(order.clone());
        Ok(RefundSaved {
            seq,
            paid_back_cents: paid,
            tender: order.tender,
        })
    }

    fn void(&mut self, sale_id: &str) -> Result<VoidSaved, String> {
        let i = self
            .find_sale(sale_id)
            .ok_or_else(|| format!("unknown sale {sale_id}"))?;
        if self.sales[i].voided {
            return Err(format!("sale #{} is already voided", self.sales[i].seq));
        }
        self.sales[i].voided = true;
        let paid = self.sales[i].paid_cents;
        let sale = format!("#{}", self.sales[i].seq);
        let seq = self.push_op(void_kind(), OpState::Pending, Some(paid));
        Ok(VoidSaved {
            seq,
            sale_id: sale_id.to_string(),
            sale,
            paid_back_cents: paid,
        })
    }

    /// Feeds `action` to the console and answers every command until nothing is left.
    pub fn drive(&mut self, st: &mut State, action: Action) {
        let mut pending = std::collections::VecDeque::from([action]);
        while let Some(a) = pending.pop_front() {
            let cmds = update(st, a);
            pending.extend(cmds.iter().filter_map(|c| self.answer(c)));
        }
    }

    pub fn drive_all(&mut self, st: &mut State, actions: Vec<Action>) {
        for a in actions {
            self.drive(st, a);
        }
    }

    /// Starts the console the way the event loop does.
    pub fn start(&mut self, st: &mut State) {
        for c in kassa::tui::init(st) {
            if let Some(a) = self.answer(&c) {
                self.drive(st, a);
            }
        }
    }
}

pub fn conflict(id: &str, kind: &str, sku: &str, details: serde_json::Value) -> ConflictItem {
    ConflictItem {
        id: id.into(),
        kind: kind.into(),
        status: "open".into(),
        sku: Some(sku.into()),
        sale_id: Some("5b0e7f52-0000-4000-8000-000000000001".into()),
        details,
        resolution: None,
        line_no: None,
        count_id: None,
        created_at: None,
        resolved_at: None,
        queued_action: None,
    }
}

/// What a refund order pays back, by the domain's arithmetic.
fn order_amount(_store: &FakeStore, _order: &RefundOrder) -> Result<i64, String> {
    // WIRING POINT: till10's domain refund arithmetic.
    Ok(0)
}

fn refund_kind() -> OpKind {
    // WIRING POINT: OpKind::Refund from till10.
    OpKind::Sale
}

fn void_kind() -> OpKind {
    // WIRING POINT: OpKind::VoidSale from till10.
    OpKind::Sale
}
