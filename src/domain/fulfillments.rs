//! Fulfilments: shipping an order's lines in parts, each part with its carrier and tracking
//! number; what a fulfilment may take of each line, and what a shipment's details may hold.

use std::collections::BTreeMap;

use crate::domain::rejection::{Rejection, RejectionCode};

/// Most fulfilments of one order.
pub const MAX_FULFILLMENTS_PER_ORDER: usize = 50;
/// Longest carrier name, in characters.
pub const MAX_CARRIER_CHARS: usize = 100;
/// Longest tracking number, in characters.
pub const MAX_TRACKING_NUMBER_CHARS: usize = 100;
/// Longest tracking address, in characters.
pub const MAX_TRACKING_URL_CHARS: usize = 2_000;

/// An order line as far as fulfilment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineProgress {
    /// The order line's row id.
    pub line_id: i64,
    /// Units bought.
    pub quantity: i32,
    /// Units shipped so far.
    pub fulfilled: i32,
}

impl LineProgress {
    /// Units still to ship.
    pub fn remaining(self) -> i32 {
        (self.quantity - self.fulfilled).max(0)
    }
}

/// What a fulfilment ships: units per order line, by line id.
pub type Shipment = BTreeMap<i64, i32>;

/// What a fulfilment of `lines` ships when the caller asks for `requested` (line id, quantity),
/// or every unit still to ship when it names no lines. Each named line must be the order's,
/// named once, with 1 to its remaining units; a fulfilment ships at least one unit.
pub fn plan_shipment(
    lines: &[LineProgress],
    requested: Option<&[(i64, i32)]>,
) -> Result<Shipment, Rejection> {
    let Some(requested) = requested else {
        let shipment: Shipment = lines
            .iter()
            .filter(|line| line.remaining() > 0)
            .map(|line| (line.line_id, line.remaining()))
            .collect();
        if shipment.is_empty() {
            return Err(Rejection::new(
                &["id"],
                RejectionCode::InvalidTransition,
                "every unit of the order has shipped",
            ));
        }
        return Ok(shipment);
    };
    if requested.is_empty() {
        return Err(Rejection::new(
            &["lines"],
            RejectionCode::Invalid,
            "name at least one line, or leave `lines` out to ship everything left",
        ));
    }
    let mut shipment = Shipment::new();
    for (index, &(line_id, quantity)) in requested.iter().enumerate() {
        let at = |field: &str, code, message: String| {
            Err(Rejection::new(
                &["lines", &index.to_string(), field],
                code,
                message,
            ))
        };
        let Some(line) = lines.iter().find(|line| line.line_id == line_id) else {
            return at(
                "lineId",
                RejectionCode::NotFound,
                "no such line in this order".to_owned(),
            );
        };
        if shipment.contains_key(&line_id) {
            return at(
                "lineId",
                RejectionCode::Invalid,
                "the same line is named twice".to_owned(),
            );
        }
        if quantity < 1 {
            return at(
                "quantity",
                RejectionCode::Invalid,
                "ship at least one unit of a line you name".to_owned(),
            );
        }
        if quantity > line.remaining() {
            return at(
                "quantity",
                RejectionCode::Invalid,
                format!(
                    "{} of this line's {} units are left to ship",
                    line.remaining(),
                    line.quantity
                ),
            );
        }
        shipment.insert(line_id, quantity);
    }
    Ok(shipment)
}

/// Whether every unit of `lines` has shipped once `shipment` ships too.
pub fn ships_everything(lines: &[LineProgress], shipment: &Shipment) -> bool {
    lines
        .iter()
        .all(|line| shipment.get(&line.line_id).copied().unwrap_or(0) >= line.remaining())
}

/// A shipment's carrier, tracking number and tracking address, trimmed and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    /// Who carries it (`DHL`, `La Poste`); may be empty.
    pub carrier: String,
    /// The carrier's number for it; may be empty.
    pub number: String,
    /// Where the customer follows it: an `https://` or `http://` address, or none.
    pub url: Option<String>,
}

impl Tracking {
    /// The details as given, trimmed, or the first that breaks its rule.
    pub fn checked(carrier: &str, number: &str, url: Option<&str>) -> Result<Self, Rejection> {
        let carrier = within("carrier", carrier, MAX_CARRIER_CHARS)?;
        let number = within("trackingNumber", number, MAX_TRACKING_NUMBER_CHARS)?;
        let url = match url.map(str::trim).filter(|url| !url.is_empty()) {
            None => None,
            Some(url) => {
                let url = within("trackingUrl", url, MAX_TRACKING_URL_CHARS)?;
                let parsed = reqwest::Url::parse(&url).ok();
                if !parsed.is_some_and(|parsed| matches!(parsed.scheme(), "https" | "http")) {
                    return Err(Rejection::new(
                        &["trackingUrl"],
                        RejectionCode::Invalid,
                        "a tracking address is an https:// or http:// URL",
                    ));
                }
                Some(url)
            }
        };
        Ok(Self {
            carrier,
            number,
            url,
        })
    }
}

fn within(field: &str, text: &str, most: usize) -> Result<String, Rejection> {
    let text = text.trim();
    if text.chars().count() > most {
        return Err(Rejection::new(
            &[field],
            RejectionCode::TooLong,
            format!("at most {most} characters"),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<LineProgress> {
        vec![
            LineProgress {
                line_id: 1,
                quantity: 3,
                fulfilled: 1,
            },
            LineProgress {
                line_id: 2,
                quantity: 1,
                fulfilled: 0,
            },
        ]
    }

    #[test]
    fn naming_no_lines_ships_everything_left() {
        let shipment = plan_shipment(&lines(), None).unwrap();
        assert_eq!(shipment, Shipment::from([(1, 2), (2, 1)]));
        assert!(ships_everything(&lines(), &shipment));
    }

    #[test]
    fn a_part_ships_what_it_names_and_leaves_the_rest() {
        let shipment = plan_shipment(&lines(), Some(&[(1, 1)])).unwrap();
        assert_eq!(shipment, Shipment::from([(1, 1)]));
        assert!(!ships_everything(&lines(), &shipment));
        let rest = plan_shipment(&lines(), Some(&[(2, 1), (1, 2)])).unwrap();
        assert!(ships_everything(&lines(), &rest));
    }

    #[test]
    fn each_bad_line_is_named_by_its_place() {
        let refused = |requested: &[(i64, i32)]| plan_shipment(&lines(), Some(requested));
        let too_many = refused(&[(2, 1), (1, 3)]).unwrap_err();
        assert_eq!(too_many.field, ["lines", "1", "quantity"]);
        assert_eq!(
            too_many.message,
            "2 of this line's 3 units are left to ship"
        );
        assert_eq!(
            refused(&[(1, 0)]).unwrap_err().field,
            ["lines", "0", "quantity"]
        );
        assert_eq!(
            refused(&[(1, -4)]).unwrap_err().code,
            RejectionCode::Invalid
        );
        let stranger = refused(&[(9, 1)]).unwrap_err();
        assert_eq!(
            (stranger.field, stranger.code),
            (
                vec!["lines".to_owned(), "0".to_owned(), "lineId".to_owned()],
                RejectionCode::NotFound
            )
        );
        assert_eq!(
            refused(&[(2, 1), (2, 1)]).unwrap_err().field,
            ["lines", "1", "lineId"]
        );
        assert_eq!(refused(&[]).unwrap_err().field, ["lines"]);
    }

    #[test]
    fn nothing_is_left_to_ship_once_everything_shipped() {
        let shipped: Vec<LineProgress> = lines()
            .into_iter()
            .map(|line| LineProgress {
                fulfilled: line.quantity,
                ..line
            })
            .collect();
        let refused = plan_shipment(&shipped, None).unwrap_err();
        assert_eq!(refused.code, RejectionCode::InvalidTransition);
        assert!(plan_shipment(&shipped, Some(&[(1, 1)])).is_err());
    }

    #[test]
    fn tracking_details_are_trimmed_and_bounded() {
        let tracking = Tracking::checked(" DHL ", " 00340 ", Some(" https://dhl.example/t/1 "));
        assert_eq!(
            tracking.unwrap(),
            Tracking {
                carrier: "DHL".to_owned(),
                number: "00340".to_owned(),
                url: Some("https://dhl.example/t/1".to_owned()),
            }
        );
        assert_eq!(Tracking::checked("", "", Some("  ")).unwrap().url, None);
        let long = "x".repeat(MAX_CARRIER_CHARS + 1);
        assert_eq!(
            Tracking::checked(&long, "", None).unwrap_err().code,
            RejectionCode::TooLong
        );
        for bad in ["javascript:alert(1)", "not a url", "ftp://example.com/t"] {
            let refused = Tracking::checked("", "", Some(bad)).unwrap_err();
            assert_eq!(refused.field, ["trackingUrl"], "{bad}");
        }
    }
}
