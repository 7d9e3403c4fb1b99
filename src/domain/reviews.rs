//! Review rules: what a review may say, and its moderation status.

use crate::domain::accounts::parse_text;
use crate::domain::rejection::{Rejection, RejectionCode};

/// Where a review is in moderation. Customers see approved reviews only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    /// Waiting for staff.
    Pending,
    /// Shown.
    Approved,
    /// Not shown.
    Rejected,
}

crate::domain::text_enum!(ReviewStatus {
    Pending => "PENDING",
    Approved => "APPROVED",
    Rejected => "REJECTED",
});

/// A checked review: rating 1–5, a title of 1–150 characters, a body of at most 5,000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewContent {
    pub rating: i32,
    pub title: String,
    pub body: String,
}

impl ReviewContent {
    /// Checks every part; all problems at once, with GraphQL field names.
    pub fn parse(rating: i32, title: &str, body: &str) -> Result<Self, Vec<Rejection>> {
        let mut problems = Vec::new();
        if !(1..=5).contains(&rating) {
            problems.push(Rejection::new(
                &["rating"],
                RejectionCode::Invalid,
                "a rating is 1 to 5",
            ));
        }
        let title = parse_text(title, "title", 150, true).unwrap_or_else(|r| {
            problems.push(r);
            String::new()
        });
        let body = if body.chars().count() > 5_000 {
            problems.push(Rejection::new(
                &["body"],
                RejectionCode::TooLong,
                "a review has at most 5,000 characters",
            ));
            String::new()
        } else {
            body.trim().to_owned()
        };
        if problems.is_empty() {
            Ok(Self {
                rating,
                title,
                body,
            })
        } else {
            Err(problems)
        }
    }
}

/// How the author is shown: first name and last initial, never the email.
pub fn author_name(first_name: &str, last_name: &str) -> String {
    match (first_name.trim(), last_name.trim().chars().next()) {
        ("", _) => "A customer".to_owned(),
        (first, Some(initial)) => format!("{first} {initial}."),
        (first, None) => first.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_checked() {
        assert!(ReviewContent::parse(5, "Great", "Loved it").is_ok());
        let problems = ReviewContent::parse(6, " ", &"x".repeat(5_001)).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field[0].as_str()).collect();
        assert_eq!(fields, ["rating", "title", "body"]);
    }

    #[test]
    fn authors_are_shown_without_their_email() {
        assert_eq!(author_name("Ada", "Lovelace"), "Ada L.");
        assert_eq!(author_name("", "Lovelace"), "A customer");
        assert_eq!(author_name("Ada", ""), "Ada");
    }
}
