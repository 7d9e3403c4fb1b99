//! `productUpsert`: a partner system (an ERP) pushes its catalog by its own references, as often
//! as it likes. A product is created the first time its reference is seen and updated after;
//! its variants are upserted by SKU. Pushing the same thing twice changes nothing the second
//! time (no write, no audit entry, no new `updatedAt`). Two concurrent pushes of one reference
//! make one product: the unique `external_ref` (or slug) refuses the second insert, which then
//! runs again as an update.
//!
//! Creating and updating go through `merchandising`'s one function each ([`insert_product`],
//! [`refresh`], [`insert_variant`], [`write_variant`]), like `productCreate`, `productUpdate`,
//! `variantCreate` and `variantUpdate`.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::merchandising::{
    NewVariantFields, ProductInput, VariantInput, changes_variant, edited_product, edited_variant,
    edits_of, insert_product, insert_variant, new_product_fields, new_variant_fields,
    options_misfit, refresh, write_variant,
};
use crate::db::models::product::{self, Product};
use crate::db::models::variant::{self, Variant};
use crate::db::{Db, DbConnection};
use crate::domain::bounds::{MAX_VARIANTS_PER_PRODUCT, room_for};
use crate::domain::catalog::{CatalogVisibility, ProductStatus, normalize_sku};
use crate::domain::events::EventType;
use crate::domain::ids::{ProductId, VariantId};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::events::{Changes, recorded_transaction};

/// Longest external reference, in characters.
pub const MAX_EXTERNAL_REF_CHARS: usize = 200;

/// What an upsert did.
#[derive(Debug, Clone)]
pub struct Upserted {
    /// The product as stored.
    pub product: Product,
    /// Whether this call created it.
    pub created: bool,
    /// Whether anything was written (false: the product and its variants already matched).
    pub changed: bool,
}

/// A partner's reference for a product: trimmed, 1 to [`MAX_EXTERNAL_REF_CHARS`] characters.
fn external_ref(raw: &str) -> AppResult<String> {
    let trimmed = raw.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > MAX_EXTERNAL_REF_CHARS {
        return Err(AppError::rejected(Rejection::new(
            &["externalRef"],
            RejectionCode::Invalid,
            format!("an external reference has 1 to {MAX_EXTERNAL_REF_CHARS} characters"),
        )));
    }
    Ok(trimmed.to_owned())
}

/// Refuses the push if a variant it wrote (`(id, index in the push)`) does not fit beside the
/// product's other variants on sale, naming it by its place in the push.
fn check_options_fit(
    conn: &mut DbConnection,
    product_id: ProductId,
    written: &[(VariantId, usize)],
) -> AppResult<()> {
    let ids: Vec<VariantId> = written.iter().map(|(id, _)| *id).collect();
    match options_misfit(conn, product_id, &ids)? {
        Some((id, rejection)) => {
            let index = written
                .iter()
                .find(|(written_id, _)| *written_id == id)
                .map_or(0, |(_, index)| *index);
            Err(at_variant(AppError::rejected(rejection), index))
        }
        None => Ok(()),
    }
}

/// The same error, its rejections' `input` paths moved under `input.variants.<index>`.
fn at_variant(error: AppError, index: usize) -> AppError {
    match error {
        AppError::Rejected(rejections) => AppError::Rejected(
            rejections
                .into_iter()
                .map(|mut rejection| {
                    if rejection.field.first().map(String::as_str) == Some("input") {
                        rejection
                            .field
                            .splice(1..1, ["variants".to_owned(), index.to_string()]);
                    }
                    rejection
                })
                .collect(),
        ),
        other => other,
    }
}

/// One variant of the push, its SKU normalised.
struct PushedVariant {
    index: usize,
    sku: String,
    input: VariantInput,
}

/// Checks the variants of a push before any SQL: at most [`MAX_VARIANTS_PER_PRODUCT`], each
/// with a SKU, no SKU twice.
fn pushed_variants(variants: Vec<VariantInput>) -> AppResult<Vec<PushedVariant>> {
    room_for(
        0,
        variants.len(),
        MAX_VARIANTS_PER_PRODUCT,
        &["input", "variants"],
        "variants per product",
    )
    .map_err(AppError::rejected)?;
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    let mut pushed = Vec::with_capacity(variants.len());
    for (index, input) in variants.into_iter().enumerate() {
        let sku = normalize_sku(input.sku.as_deref().unwrap_or_default());
        let field = ["input", "variants", &index.to_string(), "sku"];
        if input.sku.is_none() {
            problems.push(Rejection::new(
                &field,
                RejectionCode::Invalid,
                "each variant names its SKU",
            ));
        } else if !seen.insert(sku.clone()) {
            problems.push(Rejection::new(
                &field,
                RejectionCode::Invalid,
                "this SKU is given twice",
            ));
        }
        pushed.push(PushedVariant { index, sku, input });
    }
    if problems.is_empty() {
        Ok(pushed)
    } else {
        Err(AppError::Rejected(problems))
    }
}

/// Creates the product known as `external_ref` from `input` and `variants`, or updates it (and
/// upserts its variants by SKU: a SKU it has is updated, a new one added, the others left
/// alone). Staff or a partner key with `write_products` call it; the audit log records a
/// `product.upsert` when something changed.
pub async fn upsert_product(
    db: &Db,
    external_ref: &str,
    input: ProductInput,
    variants: Vec<VariantInput>,
) -> AppResult<Upserted> {
    let external_ref = self::external_ref(external_ref)?;
    let variants = pushed_variants(variants)?;
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        let push = Push {
            actor,
            external_ref: &external_ref,
            input: &input,
            variants: &variants,
        };
        match recorded_transaction(conn, currency, |conn, changes| push.apply(conn, changes)) {
            // A concurrent push of the same reference may have inserted it first (the unique
            // reference, or the slug, refused ours): look again, now as an update. A slug or
            // SKU really taken is refused again, the same way.
            Err(AppError::Rejected(rejections))
                if rejections.iter().any(|r| r.code == RejectionCode::Taken) =>
            {
                recorded_transaction(conn, currency, |conn, changes| push.apply(conn, changes))
            }
            done => done,
        }
    })
    .await
}

/// One push, applied in a write transaction.
struct Push<'a> {
    actor: Option<i64>,
    external_ref: &'a str,
    input: &'a ProductInput,
    variants: &'a [PushedVariant],
}

impl Push<'_> {
    fn apply(&self, conn: &mut DbConnection, changes: &mut Changes) -> AppResult<Upserted> {
        match product::lock_by_external_ref(conn, self.external_ref)? {
            Some(current) => self.update(conn, changes, current),
            None => self.create(conn, changes),
        }
    }

    fn create(&self, conn: &mut DbConnection, changes: &mut Changes) -> AppResult<Upserted> {
        let fields = new_product_fields(self.input)?;
        let new_variants = self
            .variants
            .iter()
            .map(|v| new_variant_fields(&v.input).map_err(|e| at_variant(e, v.index)))
            .collect::<AppResult<Vec<NewVariantFields>>>()?;
        let created = insert_product(conn, changes, &fields, Some(self.external_ref))?;
        let mut written = Vec::with_capacity(new_variants.len());
        for (pushed, fields) in self.variants.iter().zip(&new_variants) {
            let id = insert_variant(conn, changes, self.actor, created.id, fields)
                .map_err(|e| at_variant(e, pushed.index))?;
            written.push((id, pushed.index));
        }
        check_options_fit(conn, created.id, &written)?;
        if !new_variants.is_empty() {
            refresh(conn, changes, &created, edits_of(&created))?;
        }
        let skus: Vec<&str> = new_variants.iter().map(|v| v.sku.as_str()).collect();
        let details = json!({ "externalRef": self.external_ref, "created": true,
                              "status": [null, &created.status], "name": [null, &created.name],
                              "variantsCreated": skus, "variantsUpdated": [] });
        self.finish(conn, created.id, true, details)
    }

    fn update(
        &self,
        conn: &mut DbConnection,
        changes: &mut Changes,
        current: Product,
    ) -> AppResult<Upserted> {
        let edits = edited_product(conn, &current, self.input)?;
        let existing: HashMap<String, Variant> =
            variant::for_products(conn, &[current.id], CatalogVisibility::Everything)?
                .into_iter()
                .map(|v| (v.sku.clone(), v))
                .collect();
        let mut updates = Vec::new();
        let mut creates = Vec::new();
        for pushed in self.variants {
            match existing.get(&pushed.sku) {
                Some(variant) => {
                    // Stock applies only when a variant is created.
                    let edits = edited_variant(variant, &pushed.input)
                        .map_err(|e| at_variant(e, pushed.index))?;
                    if changes_variant(variant, &edits) {
                        updates.push((variant, edits, pushed.index));
                    }
                }
                None => creates.push((
                    pushed.index,
                    new_variant_fields(&pushed.input).map_err(|e| at_variant(e, pushed.index))?,
                )),
            }
        }
        let product_changed = edits != edits_of(&current);
        if !product_changed && updates.is_empty() && creates.is_empty() {
            return Ok(Upserted {
                product: current,
                created: false,
                changed: false,
            });
        }
        room_for(
            i64::try_from(existing.len()).unwrap_or(i64::MAX),
            creates.len(),
            MAX_VARIANTS_PER_PRODUCT,
            &["input", "variants"],
            "variants per product",
        )
        .map_err(AppError::rejected)?;
        let mut written = Vec::with_capacity(updates.len() + creates.len());
        for (variant, edits, index) in &updates {
            write_variant(conn, changes, self.actor, variant, edits)?;
            written.push((variant.id, *index));
        }
        for (index, fields) in &creates {
            let id = insert_variant(conn, changes, self.actor, current.id, fields)
                .map_err(|e| at_variant(e, *index))?;
            written.push((id, *index));
        }
        check_options_fit(conn, current.id, &written)?;
        let details = json!({ "externalRef": self.external_ref, "created": false,
                              "status": [&current.status, &edits.status],
                              "name": [&current.name, &edits.name],
                              "variantsCreated": creates.iter().map(|(_, f)| &f.sku).collect::<Vec<_>>(),
                              "variantsUpdated": updates.iter().map(|(v, _, _)| &v.sku).collect::<Vec<_>>() });
        let archived_now =
            edits.status == ProductStatus::Archived && current.status != ProductStatus::Archived;
        refresh(conn, changes, &current, edits)?;
        if product_changed {
            let kind = if archived_now {
                EventType::ProductArchived
            } else {
                EventType::ProductUpdated
            };
            changes.product(conn, kind, current.id)?;
        }
        self.finish(conn, current.id, false, details)
    }

    fn finish(
        &self,
        conn: &mut DbConnection,
        id: ProductId,
        created: bool,
        details: serde_json::Value,
    ) -> AppResult<Upserted> {
        audit::record(
            conn,
            self.actor,
            "product.upsert",
            Subject::Product(id.0),
            details,
        )?;
        let product = product::by_id(conn, id)?.ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("product {id} vanished in its transaction"))
        })?;
        Ok(Upserted {
            product,
            created,
            changed: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_rejections_name_their_place_in_the_push() {
        let error = AppError::Rejected(vec![
            Rejection::new(&["input", "sku"], RejectionCode::Invalid, "bad"),
            Rejection::new(&[], RejectionCode::Invalid, "whole"),
        ]);
        let AppError::Rejected(moved) = at_variant(error, 3) else {
            panic!("still rejected");
        };
        assert_eq!(moved[0].field, ["input", "variants", "3", "sku"]);
        assert!(moved[1].field.is_empty());
    }

    #[test]
    fn pushes_name_each_sku_once() {
        let variant = |sku: Option<&str>| VariantInput {
            sku: sku.map(str::to_owned),
            ..VariantInput::default()
        };
        assert!(pushed_variants(vec![variant(Some("a")), variant(Some("b"))]).is_ok());
        let Err(AppError::Rejected(problems)) = pushed_variants(vec![
            variant(Some("a")),
            variant(Some(" A ")),
            variant(None),
        ]) else {
            panic!("refused");
        };
        let fields: Vec<String> = problems.iter().map(|p| p.field.join(".")).collect();
        assert_eq!(fields, ["input.variants.1.sku", "input.variants.2.sku"]);
        assert!(external_ref("  ").is_err());
        assert_eq!(external_ref(" ERP-1 ").unwrap(), "ERP-1");
        assert!(external_ref(&"x".repeat(MAX_EXTERNAL_REF_CHARS + 1)).is_err());
    }
}
