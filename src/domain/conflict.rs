//! Conflicts the server raises and the actions that resolve each kind (docs/protocol.md).

/// What an action needs besides the conflict id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionNeeds {
    Nothing,
    /// A counted quantity (`--qty`).
    Qty,
    /// An existing product's SKU (`--sku`).
    Sku,
}

/// One resolution action: its name, what it needs, and what it does in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolutionAction {
    pub name: &'static str,
    pub needs: ActionNeeds,
    pub help: &'static str,
}

const fn action(name: &'static str, needs: ActionNeeds, help: &'static str) -> ResolutionAction {
    ResolutionAction { name, needs, help }
}

/// The actions a conflict kind accepts, or `None` for a kind this build does not know.
pub fn actions_for(kind: &str) -> Option<&'static [ResolutionAction]> {
    use ActionNeeds::*;
    const OVERSOLD: &[ResolutionAction] = &[
        action(
            "accept",
            Nothing,
            "leave stock negative until the next count",
        ),
        action("recount", Qty, "submit a stock count now"),
    ];
    const PRICE: &[ResolutionAction] = &[
        action("accept", Nothing, "accept the price sold at"),
        action("adjust", Nothing, "record the difference as an adjustment"),
    ];
    const UNKNOWN: &[ResolutionAction] = &[
        action("map", Sku, "map to an existing SKU and move its stock"),
        action("non_stock", Nothing, "accept as a non-stock line"),
    ];
    const COUNT: &[ResolutionAction] = &[
        action("accept", Nothing, "accept the count"),
        action("reject", Nothing, "reject the count"),
    ];
    const OVER_REFUND: &[ResolutionAction] = &[
        action("accept_loss", Nothing, "book the excess refund as a loss"),
        action("follow_up", Nothing, "mark for head office to follow up"),
    ];
    match kind {
        "oversold" => Some(OVERSOLD),
        "over_refund" => Some(OVER_REFUND),
        "price_mismatch" => Some(PRICE),
        "unknown_product" => Some(UNKNOWN),
        "count_discrepancy" => Some(COUNT),
        _ => None,
    }
}

/// Checks an action and its arguments against the conflict's kind; a one-line error otherwise.
pub fn check_action(
    kind: &str,
    action: &str,
    qty: Option<i64>,
    sku: Option<&str>,
) -> Result<(), String> {
    let actions = actions_for(kind).ok_or_else(|| format!("unknown conflict kind {kind:?}"))?;
    let a = actions.iter().find(|a| a.name == action).ok_or_else(|| {
        let names: Vec<&str> = actions.iter().map(|a| a.name).collect();
        format!(
            "{action:?} does not resolve a {kind} conflict (use {})",
            names.join(" or ")
        )
    })?;
    match a.needs {
        ActionNeeds::Qty => match qty {
            Some(q) if (0..=1_000_000_000).contains(&q) => Ok(()),
            Some(q) => Err(format!("--qty must be between 0 and 1000000000, got {q}")),
            None => Err(format!("{action} needs --qty")),
        },
        ActionNeeds::Sku => match sku {
            Some(s) if !s.is_empty() => Ok(()),
            _ => Err(format!("{action} needs --sku")),
        },
        ActionNeeds::Nothing => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_documented_actions() {
        assert!(check_action("oversold", "accept", None, None).is_ok());
        assert_eq!(
            check_action("oversold", "recount", None, None),
            Err("recount needs --qty".into())
        );
        assert!(check_action("oversold", "recount", Some(4), None).is_ok());
        assert!(check_action("unknown_product", "map", None, Some("1001")).is_ok());
        assert_eq!(
            check_action("price_mismatch", "map", None, None),
            Err("\"map\" does not resolve a price_mismatch conflict (use accept or adjust)".into())
        );
        assert!(check_action("count_discrepancy", "reject", None, None).is_ok());
        assert!(check_action("weird", "accept", None, None).is_err());
        assert!(check_action("over_refund", "accept_loss", None, None).is_ok());
        assert!(check_action("over_refund", "follow_up", None, None).is_ok());
        assert_eq!(
            check_action("over_refund", "accept", None, None),
            Err(
                "\"accept\" does not resolve a over_refund conflict (use accept_loss or follow_up)"
                    .into()
            )
        );
    }
}
