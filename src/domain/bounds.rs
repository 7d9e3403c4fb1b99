//! How long each list the API returns can grow: the maxima that writes enforce (a write that
//! would pass one is refused with `LIMIT_REACHED`) and that reads honour, so that the query
//! cost model (`graphql::query_cost`) can price every list by a bound the server guarantees.

use crate::domain::rejection::{Rejection, RejectionCode};

/// Most root categories, and most direct subcategories of one category.
pub const MAX_CATEGORY_CHILDREN: usize = 50;
/// Most variants of one product (archived ones included: staff see them).
pub const MAX_VARIANTS_PER_PRODUCT: usize = 100;
/// Most images of one product.
pub const MAX_IMAGES_PER_PRODUCT: usize = 20;
/// Most option values of one variant (`Size`, `Color`, `Material`).
pub const MAX_OPTIONS_PER_VARIANT: usize = 3;
/// Most options of one product, over all its variants on sale (`Product.options`).
pub const MAX_OPTIONS_PER_PRODUCT: usize = 3;
/// Most lines (distinct variants) of one cart, and so of one order.
pub const MAX_CART_LINES: usize = 50;
/// Most charge attempts on one order (declined cards included).
pub const MAX_CHARGE_ATTEMPTS_PER_ORDER: usize = 10;
/// Most refund attempts staff make on one order (failed ones included).
pub const MAX_REFUND_ATTEMPTS_PER_ORDER: usize = 5;
/// Most payment rows of one order: its charge attempts, the automatic refund of each charge
/// that succeeded after the order stopped waiting for payment, and staff's refund attempts.
pub const MAX_PAYMENTS_PER_ORDER: usize =
    2 * MAX_CHARGE_ATTEMPTS_PER_ORDER + MAX_REFUND_ATTEMPTS_PER_ORDER;
/// Most events of one order: `CREATED`, one per transition along the longest path of the state
/// machine (paid, fulfilled, refunded: it has no cycle), and one `PAYMENT_REVERSED` per charge
/// attempt at most.
pub const MAX_EVENTS_PER_ORDER: usize = 1 + 3 + MAX_CHARGE_ATTEMPTS_PER_ORDER;
/// Most `userErrors` of one mutation payload (a use case reports at most one per input field).
pub const MAX_USER_ERRORS: usize = 10;
/// Lines of one `inventorySetQuantities` (and the user errors it may return: one per line).
pub const MAX_STOCK_LINES: usize = 250;

/// Most products of one manual collection.
pub const MAX_PRODUCTS_PER_COLLECTION: usize = 1000;
/// Most collections one product is in (`Product.collections`).
pub const MAX_COLLECTIONS_PER_PRODUCT: usize = 25;
/// Most products one collection mutation adds, removes or moves.
pub const MAX_COLLECTION_CHANGES: usize = 250;

/// Whether a list holding `count` items can take `more` without passing `most`; a
/// `LIMIT_REACHED` rejection at `field` saying so (`what` names the items, plural) if not.
pub fn room_for(
    count: i64,
    more: usize,
    most: usize,
    field: &[&str],
    what: &str,
) -> Result<(), Rejection> {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count.saturating_add(more) <= most {
        return Ok(());
    }
    Err(Rejection::new(
        field,
        RejectionCode::LimitReached,
        format!("at most {most} {what}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_runs_out_at_the_maximum() {
        assert!(room_for(0, 1, 2, &[], "things").is_ok());
        assert!(room_for(1, 1, 2, &[], "things").is_ok());
        let refused = room_for(2, 1, 2, &["input"], "things").unwrap_err();
        assert_eq!(refused.code, RejectionCode::LimitReached);
        assert_eq!(refused.field, ["input"]);
        assert_eq!(refused.message, "at most 2 things");
        assert!(room_for(1, 2, 2, &[], "things").is_err(), "several at once");
        assert!(
            room_for(-1, 0, 2, &[], "things").is_err(),
            "a nonsense count"
        );
    }

    #[test]
    fn an_order_passes_at_most_three_transitions() {
        use crate::domain::orders::{OrderAction, OrderStatus};
        const ACTIONS: [OrderAction; 4] = [
            OrderAction::Pay,
            OrderAction::Fulfil,
            OrderAction::Cancel,
            OrderAction::Refund,
        ];
        // Every status reachable after n transitions; the machine must run dry after three
        // (a cycle never would), which is what MAX_EVENTS_PER_ORDER counts on.
        let mut reachable = vec![OrderStatus::PendingPayment];
        let mut transitions = 0;
        while !reachable.is_empty() {
            reachable = reachable
                .iter()
                .flat_map(|status| ACTIONS.iter().filter_map(|a| status.apply(*a).ok()))
                .map(|transition| transition.to)
                .collect();
            if !reachable.is_empty() {
                transitions += 1;
            }
            assert!(
                transitions <= 3,
                "an order can change status more than 3 times"
            );
        }
        assert_eq!(
            MAX_EVENTS_PER_ORDER,
            1 + transitions + MAX_CHARGE_ATTEMPTS_PER_ORDER
        );
    }
}
