//! Shared fixtures for the console tests: a fixed clock, a small catalog, key helpers and an
//! in-memory stand-in for the store worker that answers the console's commands.
#![allow(dead_code)]

pub mod pty;

use chrono::{DateTime, FixedOffset, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kassa::domain::{
    CartLine, CompletedSale, OpKind, OpState, Product, ReceiptRef, Refund, RefundPick,
    RefundPolicy, RefundableLine,
};
use kassa::receipt::{text, Receipt, ReceiptContext, StoreHeader};
use kassa::timefmt::Zone;
use kassa::tui::action::{Action, Command};
use kassa::tui::login::StaffGate;
use kassa::tui::model::{
    CashKind, ConflictItem, LocalStatusView, OpDetailView, PinRefusal, QueueFilterView, QueueItem,
    ReceiptView, RefundOrder, RefundSaved, SaleSaved, ShiftClosedView, ShiftTotalsView, ShiftView,
    StaffView, VoidSaved,
};
use kassa::tui::receipt::ReceiptShown;
use kassa::tui::state::{Settings, State};
use kassa::tui::{draw, update};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use uuid::Uuid;

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
    pub sale: CompletedSale,
    /// Refunded units per line (same order as the sale's lines).
    pub refunded: Vec<i64>,
    pub voided: bool,
    /// Sold by this till (else another till's, looked up on the server).
    pub own: bool,
}

impl FakeSale {
    pub fn sale_id(&self) -> Uuid {
        self.sale.sale_id
    }

    pub fn lines(&self) -> Vec<RefundableLine> {
        self.sale
            .lines
            .iter()
            .zip(&self.refunded)
            .map(|(l, r)| RefundableLine {
                line: l.clone(),
                refunded_qty: *r,
            })
            .collect()
    }

    pub fn view(&self) -> ReceiptView {
        ReceiptView {
            sale_id: self.sale.sale_id,
            seq: self.own.then_some(self.seq),
            created_at: self.sale.created_at.clone(),
            paid_cents: self.sale.due_cents(),
            tenders: self.sale.tenders.clone(),
            voided: self.voided,
            lines: self.lines(),
        }
    }
}

/// An in-memory stand-in for the store worker: answers every command like the store would.
pub struct FakeStore {
    pub catalog: Vec<Product>,
    pub ops: Vec<QueueItem>,
    pub conflicts: Vec<ConflictItem>,
    pub sales: Vec<FakeSale>,
    /// Other tills' sales the server would find (`kassa_sale_lookup`).
    pub server_sales: Vec<FakeSale>,
    /// The server cannot be reached.
    pub server_down: bool,
    /// Refunds committed, as ordered.
    pub refunds: Vec<RefundOrder>,
    pub next_seq: i64,
    pub commands: Vec<Command>,
    /// Server catalog products the till left out, as the store would count them.
    pub skipped_products: i64,
    /// Staff with their PINs, wrong tries in a row and lockout, as the store keeps them.
    pub staff: Vec<FakeStaff>,
    /// The open shift and its paid-in / paid-out so far.
    pub shift: Option<ShiftView>,
    pub paid_in: i64,
    pub paid_out: i64,
    /// Receipts sent to the printer (seq, copy), in order.
    pub printed: Vec<(i64, bool)>,
    /// The printer fails every print with this error.
    pub printer_down: Option<String>,
    /// Receipts whose last print failed, as the store records them.
    pub print_failures: Vec<i64>,
}

/// A staff member of the fake store: five wrong PINs in a row lock them out for 15 minutes.
#[derive(Debug, Clone)]
pub struct FakeStaff {
    pub view: StaffView,
    pub pin: String,
    pub wrong: u32,
}

pub const FAKE_LOCKOUT_MIN: i64 = 15;

pub fn staff_member(n: u8, name: &str, role: &str, pin: &str) -> FakeStaff {
    FakeStaff {
        view: StaffView {
            id: Uuid::parse_str(&format!("57aff000-0000-4000-8000-{n:012}")).expect("uuid"),
            name: name.into(),
            role: role.into(),
            locked_until: None,
        },
        pin: pin.into(),
        wrong: 0,
    }
}

/// Anna (cashier, PIN 1234) and Max (manager, PIN 9876).
pub fn two_staff() -> Vec<FakeStaff> {
    vec![
        staff_member(1, "Anna Berg", "cashier", "1234"),
        staff_member(2, "Max Ruiz", "manager", "9876"),
    ]
}

impl Default for FakeStore {
    fn default() -> Self {
        FakeStore {
            catalog: catalog(),
            ops: Vec::new(),
            conflicts: Vec::new(),
            sales: Vec::new(),
            server_sales: Vec::new(),
            server_down: false,
            refunds: Vec::new(),
            next_seq: 1,
            commands: Vec::new(),
            skipped_products: 0,
            staff: Vec::new(),
            shift: None,
            paid_in: 0,
            paid_out: 0,
            printed: Vec::new(),
            printer_down: None,
            print_failures: Vec::new(),
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
            print_failures: self.print_failures.len() as i64,
            last_print_failure: self.print_failures.last().map(|s| format!("#{s}: refused")),
        }
    }

    /// Answers one command with the action the event loop would feed back.
    pub fn answer(&mut self, cmd: &Command) -> Option<Action> {
        self.commands.push(cmd.clone());
        Some(match cmd {
            Command::LookupCode { code, qty } => Action::ProductLooked {
                code: code.clone(),
                qty: *qty,
                product: self.find_product(code),
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
            Command::CommitSale {
                cart, settlement, ..
            } => {
                let total = cart.totals().ok()?.total_cents;
                let seq = self.push_op(OpKind::Sale, OpState::Pending, Some(total));
                let sale_id =
                    Uuid::parse_str(&format!("5a1e0000-0000-4000-8000-{seq:012}")).ok()?;
                let created_at = self.ops.last().map(|o| o.created_at.clone())?;
                let sale = CompletedSale::new(sale_id, created_at, cart, settlement).ok()?;
                self.sales.push(FakeSale {
                    seq,
                    refunded: vec![0; sale.lines.len()],
                    sale,
                    voided: false,
                    own: true,
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
                receipt: *receipt,
                purpose: *purpose,
                result: Ok(self.find_sale(receipt).map(|i| self.sales[i].view())),
            },
            Command::LookupReturnItem { code, qty } => Action::ReturnItemLooked {
                code: code.clone(),
                qty: *qty,
                product: self.find_product(code),
            },
            Command::CommitRefund { order, policy, .. } => {
                Action::RefundCommitted(self.refund(order, policy))
            }
            Command::CommitVoid { sale_id, .. } => Action::VoidCommitted(self.void(*sale_id)),
            Command::LookupSaleOnServer { sale_id } => {
                let receipt = ReceiptRef::SaleId(*sale_id);
                let result = if self.server_down {
                    Err(format!(
                        "unknown receipt {sale_id}: not a sale of this till, and the server \
                         could not be asked (connection refused)"
                    ))
                } else {
                    let found = self.server_sales.iter().find(|s| s.sale_id() == *sale_id);
                    match found.cloned() {
                        Some(s) => {
                            // Kept by the store: refundable here from now on, also offline.
                            let view = s.view();
                            self.sales.push(s);
                            Ok(Some(view))
                        }
                        None => Ok(None),
                    }
                };
                Action::ServerSaleLooked { receipt, result }
            }
            Command::CheckPin { staff_id, pin } => {
                let staff_id = *staff_id;
                let result = self.check_pin(staff_id, pin.expose());
                Action::PinChecked { staff_id, result }
            }
            Command::CheckApproval { staff_id, pin } => {
                let staff_id = *staff_id;
                let result = self.check_pin(staff_id, pin.expose()).and_then(|s| {
                    if s.is_manager() {
                        Ok(s)
                    } else {
                        Err(PinRefusal::NotAllowed(format!(
                            "{} is not a manager",
                            s.name
                        )))
                    }
                });
                Action::ApprovalChecked { staff_id, result }
            }
            Command::LoadShift => Action::ShiftLoaded(self.shift.clone()),
            Command::OpenShift {
                staff_id,
                float_cents,
            } => Action::ShiftOpened(if self.shift.is_some() {
                Err("a shift is already open".into())
            } else {
                let name = self
                    .staff
                    .iter()
                    .find(|s| Some(s.view.id) == *staff_id)
                    .map_or_else(|| "technician".to_string(), |s| s.view.name.clone());
                let shift = ShiftView {
                    id: Uuid::from_u128(0x5_1f00),
                    opened_at: now(),
                    staff_name: name,
                    float_cents: *float_cents,
                };
                self.shift = Some(shift.clone());
                self.paid_in = 0;
                self.paid_out = 0;
                Ok(shift)
            }),
            Command::CashMovement {
                kind, amount_cents, ..
            } => {
                let result = match (&self.shift, kind) {
                    (None, _) => Err("no shift is open".to_string()),
                    (Some(s), CashKind::Out)
                        if *amount_cents > s.float_cents + self.paid_in - self.paid_out =>
                    {
                        Err("the paid-out is more than the drawer holds".to_string())
                    }
                    (Some(_), CashKind::Out) => {
                        self.paid_out += amount_cents;
                        Ok(*amount_cents)
                    }
                    (Some(_), CashKind::In) => {
                        self.paid_in += amount_cents;
                        Ok(*amount_cents)
                    }
                    (Some(_), CashKind::NoSale) => Ok(0),
                };
                Action::CashMoved {
                    kind: *kind,
                    result,
                }
            }
            Command::CloseShift { counted_cents, .. } => {
                Action::ShiftClosed(match self.shift.take() {
                    None => Err("no shift is open".into()),
                    Some(s) => {
                        let expected = s.float_cents + self.paid_in - self.paid_out;
                        Ok(ShiftClosedView {
                            counted_cents: *counted_cents,
                            expected_cents: expected,
                            over_short_cents: counted_cents - expected,
                        })
                    }
                })
            }
            Command::LoadShiftTotals => Action::ShiftTotalsLoaded(match &self.shift {
                None => Err("no shift is open".into()),
                Some(s) => Ok(ShiftTotalsView {
                    float_cents: s.float_cents,
                    paid_in_cents: self.paid_in,
                    paid_out_cents: self.paid_out,
                    expected_cash_cents: s.float_cents + self.paid_in - self.paid_out,
                    ..ShiftTotalsView::default()
                }),
            }),
            Command::LoadReceipt { receipt } => {
                Action::ReceiptLoaded(Ok(self.find_sale(receipt).map(|i| self.receipt_of(i))))
            }
            Command::PrintReceipt { seq, copy } => {
                self.printed.push((*seq, *copy));
                Action::Printed {
                    seq: *seq,
                    result: match &self.printer_down {
                        Some(e) => Err(e.clone()),
                        None => Ok(()),
                    },
                }
            }
            Command::RecordPrint { seq, result } => {
                self.print_failures.retain(|s| s != seq);
                if result.is_err() {
                    self.print_failures.push(*seq);
                }
                Action::StatusLoaded(self.status())
            }
            Command::RetryFailedPrints => {
                let seqs = self.print_failures.clone();
                self.printed.extend(seqs.iter().map(|s| (*s, false)));
                Action::PrintsRetried(Ok(seqs))
            }
            Command::Quit | Command::SyncNow | Command::SetStaff { .. } => return None,
        })
    }

    /// A login state for these staff, at [`now`], with the given idle lock.
    pub fn gate(&self, idle_lock_s: u64) -> StaffGate {
        let mut gate = StaffGate::new(
            self.staff.iter().map(|s| s.view.clone()).collect(),
            idle_lock_s,
            now(),
        );
        gate.shift = self.shift.clone();
        gate
    }

    fn check_pin(&mut self, staff_id: Uuid, pin: &str) -> Result<StaffView, PinRefusal> {
        let at = now();
        let Some(s) = self.staff.iter_mut().find(|s| s.view.id == staff_id) else {
            return Err(PinRefusal::Failed(format!("unknown staff id {staff_id}")));
        };
        if let Some(until) = s.view.locked_until.filter(|u| *u > at) {
            return Err(PinRefusal::Locked { until });
        }
        if s.pin == pin {
            s.wrong = 0;
            s.view.locked_until = None;
            return Ok(s.view.clone());
        }
        s.wrong += 1;
        if s.wrong >= 5 {
            s.wrong = 0;
            let until = at + chrono::Duration::minutes(FAKE_LOCKOUT_MIN);
            s.view.locked_until = Some(until);
            return Err(PinRefusal::Locked { until });
        }
        Err(PinRefusal::Wrong { left: 5 - s.wrong })
    }

    /// A product by SKU or barcode, like the store's lookup.
    pub fn find_product(&self, code: &str) -> Option<Product> {
        self.catalog
            .iter()
            .find(|p| p.sku == code || p.barcode.as_deref() == Some(code))
            .cloned()
    }

    /// Sale `i`'s receipt as the store lays it out for the screen (42 columns).
    pub fn receipt_of(&self, i: usize) -> ReceiptShown {
        let s = &self.sales[i];
        let ctx = ReceiptContext {
            header: StoreHeader {
                store_name: "Corner Shop".into(),
                ..StoreHeader::default()
            },
            zone: zone(),
            ..ReceiptContext::default()
        };
        let r = Receipt::of_sale(s.seq, &s.sale, &ctx);
        ReceiptShown {
            seq: s.seq,
            kind: "sale",
            lines: text::render(&r, 42),
            failed: None,
        }
    }

    /// The sale a receipt names: its seq or its sale id.
    pub fn find_sale(&self, receipt: &ReceiptRef) -> Option<usize> {
        self.sales.iter().position(|s| match receipt {
            ReceiptRef::Seq(n) => s.seq == *n,
            ReceiptRef::SaleId(id) => s.sale.sale_id == *id,
        })
    }

    /// Checks and records a refund like the store, with the domain's arithmetic: refused
    /// (nothing changes) when it takes back more than is left, from a voided or unknown sale,
    /// or without a receipt with no reason or over the limit.
    fn refund(
        &mut self,
        order: &RefundOrder,
        policy: &RefundPolicy,
    ) -> Result<RefundSaved, String> {
        let refund = match order.sale_id {
            Some(id) => {
                let i = self
                    .find_sale(&ReceiptRef::SaleId(id))
                    .ok_or_else(|| format!("unknown receipt {id}"))?;
                let s = &self.sales[i];
                if s.voided {
                    return Err(format!("sale #{} was voided", s.seq));
                }
                let picks: Vec<RefundPick> = order
                    .lines
                    .iter()
                    .map(|l| RefundPick {
                        original_line_no: l.original_line_no.unwrap_or(0),
                        qty: l.qty,
                        restock: l.restock,
                    })
                    .collect();
                let refund = Refund::against_sale(
                    Uuid::nil(),
                    String::new(),
                    &s.sale,
                    &s.lines(),
                    &picks,
                    order.tender,
                    policy.cash_rounding,
                    &order.reason,
                )
                .map_err(|e| e.to_string())?;
                let s = &mut self.sales[i];
                for p in &picks {
                    if let Some(n) = s
                        .sale
                        .lines
                        .iter()
                        .position(|l| l.line_no == p.original_line_no)
                    {
                        s.refunded[n] += p.qty;
                    }
                }
                refund
            }
            None => {
                let mut lines = Vec::new();
                for l in &order.lines {
                    let p = self
                        .catalog
                        .iter()
                        .find(|p| p.sku == l.sku)
                        .ok_or_else(|| format!("unknown item {:?}", l.sku))?;
                    lines.push((
                        CartLine::from_product(p, l.qty).map_err(|e| e.to_string())?,
                        l.restock,
                    ));
                }
                Refund::blind(
                    Uuid::nil(),
                    String::new(),
                    "EUR",
                    &lines,
                    order.tender,
                    policy.cash_rounding,
                    &order.reason,
                    policy.blind_max_cents,
                )
                .map_err(|e| e.to_string())?
            }
        };
        let paid = refund.paid_back_cents();
        let seq = self.push_op(OpKind::Refund, OpState::Pending, Some(-paid));
        self.refunds.push(order.clone());
        Ok(RefundSaved {
            seq,
            paid_back_cents: paid,
            tender: order.tender,
        })
    }

    fn void(&mut self, sale_id: Uuid) -> Result<VoidSaved, String> {
        let i = self
            .find_sale(&ReceiptRef::SaleId(sale_id))
            .ok_or_else(|| format!("unknown receipt {sale_id}"))?;
        let s = &self.sales[i];
        if s.voided {
            return Err(format!("sale #{} is already voided", s.seq));
        }
        if s.refunded.iter().any(|r| *r > 0) {
            return Err(format!(
                "sale #{} was already partly refunded: refund the rest instead of voiding",
                s.seq
            ));
        }
        let paid = s.sale.due_cents();
        let sale = format!("#{}", s.seq);
        self.sales[i].voided = true;
        let seq = self.push_op(OpKind::VoidSale, OpState::Pending, Some(-paid));
        Ok(VoidSaved {
            seq,
            sale_id,
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
