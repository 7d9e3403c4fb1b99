//! Postal addresses a customer keeps: which parts are required and how long each may be.

use crate::domain::accounts::parse_text;
use crate::domain::rejection::{Rejection, RejectionCode};

/// Most addresses one account may keep.
pub const MAX_ADDRESSES_PER_ACCOUNT: usize = 20;
const FIELD_MAX_CHARS: usize = 200;

/// The parts of an address as a client sends them (and as a JSON object of parts is stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddressParts {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
}

impl AddressParts {
    /// The parts that are no one's personal data, what a fulfilment or tax system needs: city,
    /// postal code and country; the others empty.
    pub fn impersonal(&self) -> Self {
        Self {
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            country_code: self.country_code.clone(),
            ..Self::default()
        }
    }

    /// The whole address for a reader allowed personal data, its [`impersonal`](Self::impersonal)
    /// parts for any other.
    pub fn as_seen(self, personal: bool) -> Self {
        if personal { self } else { self.impersonal() }
    }
}

/// A checked address: trimmed, required parts present, country an upper-case ISO 3166-1 alpha-2
/// code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalAddress(AddressParts);

impl PostalAddress {
    /// Checks every part; all problems are reported at once, with GraphQL field names.
    pub fn parse(parts: &AddressParts) -> Result<Self, Vec<Rejection>> {
        let mut problems = Vec::new();
        let mut text = |raw: &str, field: &str, required: bool| {
            parse_text(raw, field, FIELD_MAX_CHARS, required).unwrap_or_else(|rejection| {
                problems.push(rejection);
                String::new()
            })
        };
        let address = AddressParts {
            first_name: text(&parts.first_name, "firstName", true),
            last_name: text(&parts.last_name, "lastName", true),
            company: text(&parts.company, "company", false),
            line1: text(&parts.line1, "line1", true),
            line2: text(&parts.line2, "line2", false),
            city: text(&parts.city, "city", true),
            region: text(&parts.region, "region", false),
            postal_code: text(&parts.postal_code, "postalCode", false),
            country_code: parts.country_code.trim().to_ascii_uppercase(),
            phone: text(&parts.phone, "phone", false),
        };
        let country_ok = address.country_code.len() == 2
            && address.country_code.chars().all(|c| c.is_ascii_uppercase());
        if !country_ok {
            problems.push(Rejection::new(
                &["countryCode"],
                RejectionCode::Invalid,
                "countryCode is a two-letter ISO 3166-1 code such as US or DE",
            ));
        }
        if problems.is_empty() {
            Ok(Self(address))
        } else {
            Err(problems)
        }
    }

    /// The checked parts.
    pub fn parts(&self) -> &AddressParts {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> AddressParts {
        AddressParts {
            first_name: " Ada ".into(),
            last_name: "Lovelace".into(),
            line1: "12 St James's Square".into(),
            city: "London".into(),
            country_code: "gb".into(),
            ..AddressParts::default()
        }
    }

    #[test]
    fn trims_and_normalises() {
        let address = PostalAddress::parse(&parts()).unwrap();
        assert_eq!(address.parts().first_name, "Ada");
        assert_eq!(address.parts().country_code, "GB");
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let problems = PostalAddress::parse(&AddressParts {
            city: String::new(),
            country_code: "GBR".into(),
            line1: "x".repeat(201),
            ..parts()
        })
        .unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field[0].as_str()).collect();
        assert_eq!(fields, ["line1", "city", "countryCode"]);
    }
}
