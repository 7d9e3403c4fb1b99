//! How much of the stock on hand a caller may learn: staff see the exact count; everyone else
//! only "only N left" once the count is at or below the shop's low-stock threshold, so a
//! competitor cannot read the shop's inventory off the storefront.

/// The shop's low-stock rule (`--low-stock-threshold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockDisclosure {
    /// Counts at or below this are shown to anyone as "only N left".
    pub low_stock_threshold: i32,
}

impl StockDisclosure {
    /// A rule showing counts at or below `low_stock_threshold`.
    pub fn new(low_stock_threshold: i32) -> Self {
        Self {
            low_stock_threshold: low_stock_threshold.max(0),
        }
    }

    /// Whether `stock` is low enough to show to anyone.
    fn is_low(self, stock: i32) -> bool {
        stock <= self.low_stock_threshold
    }

    /// The units on hand a caller may see: always for staff (`exact`), else only when low;
    /// never below zero.
    pub fn visible_quantity(self, stock: i32, exact: bool) -> Option<i32> {
        (exact || self.is_low(stock)).then_some(stock.max(0))
    }

    /// "Only N left": the units on hand when above zero and at or below the threshold.
    pub fn low_stock(self, stock: i32) -> Option<i32> {
        (stock > 0 && self.is_low(stock)).then_some(stock)
    }

    /// Why `sku` cannot be had in the quantity asked, telling the count only when the caller may
    /// see it.
    pub fn shortage_message(self, stock: i32, sku: &str, exact: bool) -> String {
        match self.visible_quantity(stock, exact) {
            Some(left) => format!("only {left} of {sku} left in stock"),
            None => format!("not enough of {sku} in stock"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: StockDisclosure = StockDisclosure {
        low_stock_threshold: 10,
    };

    #[test]
    fn counts_show_at_or_below_the_threshold_or_to_staff() {
        assert_eq!(RULE.visible_quantity(11, false), None);
        assert_eq!(RULE.visible_quantity(11, true), Some(11));
        assert_eq!(RULE.visible_quantity(10, false), Some(10));
        assert_eq!(RULE.visible_quantity(0, false), Some(0));
        assert_eq!(RULE.visible_quantity(-3, true), Some(0));
    }

    #[test]
    fn low_stock_is_between_one_and_the_threshold() {
        assert_eq!(RULE.low_stock(0), None);
        assert_eq!(RULE.low_stock(1), Some(1));
        assert_eq!(RULE.low_stock(10), Some(10));
        assert_eq!(RULE.low_stock(11), None);
        assert_eq!(StockDisclosure::new(0).low_stock(1), None);
    }

    #[test]
    fn shortage_messages_hide_counts_above_the_threshold() {
        assert_eq!(
            RULE.shortage_message(50, "MUG-1", false),
            "not enough of MUG-1 in stock"
        );
        assert_eq!(
            RULE.shortage_message(50, "MUG-1", true),
            "only 50 of MUG-1 left in stock"
        );
        assert_eq!(
            RULE.shortage_message(3, "MUG-1", false),
            "only 3 of MUG-1 left in stock"
        );
    }
}
