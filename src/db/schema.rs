//! Table definitions shared by both backends, written by hand with portable SQL types only.
//!
//! Keep in step with `migrations/sqlite/` and `migrations/postgres/`; the test
//! `schema_matches_migrations` checks the columns against both migrated databases.

diesel::table! {
    categories (id) {
        id -> BigInt,
        parent_id -> Nullable<BigInt>,
        name -> Text,
        slug -> Text,
        path -> Text,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        category_id -> Nullable<BigInt>,
        name -> Text,
        slug -> Text,
        description -> Text,
        status -> Text,
        price_min -> BigInt,
        price_max -> BigInt,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    variants (id) {
        id -> BigInt,
        product_id -> BigInt,
        sku -> Text,
        title -> Text,
        options -> Text,
        price -> BigInt,
        compare_at_price -> Nullable<BigInt>,
        stock -> Integer,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    product_images (id) {
        id -> BigInt,
        product_id -> BigInt,
        url -> Text,
        alt_text -> Text,
        position -> Integer,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        first_name -> Text,
        last_name -> Text,
        role -> Text,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_resets (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    addresses (id) {
        id -> BigInt,
        user_id -> BigInt,
        first_name -> Text,
        last_name -> Text,
        company -> Text,
        line1 -> Text,
        line2 -> Text,
        city -> Text,
        region -> Text,
        postal_code -> Text,
        country_code -> Text,
        phone -> Text,
        is_default -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(products -> categories (category_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(addresses -> users (user_id));
diesel::joinable!(variants -> products (product_id));
diesel::joinable!(product_images -> products (product_id));

diesel::allow_tables_to_appear_in_same_query!(
    categories,
    products,
    variants,
    product_images,
    users,
    sessions,
    password_resets,
    addresses,
);
