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
        change_position -> BigInt,
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
        change_position -> BigInt,
        external_ref -> Nullable<Text>,
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
        change_position -> BigInt,
        weight_grams -> BigInt,
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
        email_verified_at -> Nullable<Timestamp>,
        change_position -> BigInt,
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

diesel::table! {
    discount_codes (id) {
        id -> BigInt,
        code -> Text,
        kind -> Text,
        value -> BigInt,
        minimum_subtotal -> BigInt,
        usage_limit -> Nullable<Integer>,
        times_used -> Integer,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    carts (id) {
        id -> BigInt,
        token -> Text,
        user_id -> Nullable<BigInt>,
        discount_code_id -> Nullable<BigInt>,
        order_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        buyer_email -> Text,
        shipping_address -> Text,
        billing_address -> Text,
        shipping_method_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    cart_lines (id) {
        id -> BigInt,
        cart_id -> BigInt,
        variant_id -> BigInt,
        quantity -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        email -> Text,
        status -> Text,
        currency -> Text,
        subtotal -> BigInt,
        discount_total -> BigInt,
        shipping_total -> BigInt,
        tax_total -> BigInt,
        total -> BigInt,
        discount_code -> Nullable<Text>,
        shipping_address -> Text,
        idempotency_key -> Nullable<Text>,
        request_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        access_token_hash -> Nullable<Text>,
        change_position -> BigInt,
        billing_address -> Text,
        shipping_method -> Nullable<Text>,
        tax_lines -> Text,
        taxes_included -> Bool,
    }
}

diesel::table! {
    shipping_zones (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    shipping_zone_regions (id) {
        id -> BigInt,
        zone_id -> BigInt,
        country_code -> Text,
        region_code -> Text,
    }
}

diesel::table! {
    shipping_methods (id) {
        id -> BigInt,
        zone_id -> BigInt,
        name -> Text,
        price -> BigInt,
        free_from -> Nullable<BigInt>,
        min_subtotal -> BigInt,
        max_subtotal -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        min_weight_grams -> BigInt,
        max_weight_grams -> Nullable<BigInt>,
    }
}

diesel::table! {
    tax_rates (id) {
        id -> BigInt,
        name -> Text,
        country_code -> Text,
        region_code -> Text,
        rate_bp -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    collections (id) {
        id -> BigInt,
        title -> Text,
        slug -> Text,
        description -> Text,
        published -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        change_position -> BigInt,
    }
}

diesel::table! {
    collection_products (id) {
        id -> BigInt,
        collection_id -> BigInt,
        product_id -> BigInt,
        position -> Integer,
    }
}

diesel::table! {
    order_lines (id) {
        id -> BigInt,
        order_id -> BigInt,
        variant_id -> Nullable<BigInt>,
        product_id -> Nullable<BigInt>,
        product_name -> Text,
        variant_title -> Text,
        sku -> Text,
        unit_price -> BigInt,
        quantity -> Integer,
        line_total -> BigInt,
        fulfilled_quantity -> Integer,
    }
}

diesel::table! {
    /// A part of an order shipped together.
    fulfillments (id) {
        id -> BigInt,
        order_id -> BigInt,
        carrier -> Text,
        tracking_number -> Text,
        tracking_url -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Units of one order line in a fulfilment.
    fulfillment_lines (id) {
        id -> BigInt,
        fulfillment_id -> BigInt,
        order_line_id -> BigInt,
        quantity -> Integer,
    }
}

diesel::table! {
    /// Staff notes on orders.
    order_notes (id) {
        id -> BigInt,
        order_id -> BigInt,
        author_id -> Nullable<BigInt>,
        app_id -> Nullable<BigInt>,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    order_events (id) {
        id -> BigInt,
        order_id -> BigInt,
        kind -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_id -> Nullable<BigInt>,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> BigInt,
        order_id -> BigInt,
        kind -> Text,
        amount -> BigInt,
        status -> Text,
        gateway_reference -> Text,
        message -> Text,
        idempotency_key -> Text,
        created_at -> Timestamp,
        provider -> Text,
        payment_method -> Text,
        request_hash -> Text,
        client_secret -> Nullable<Text>,
        parent_id -> Nullable<BigInt>,
        next_check_at -> Nullable<Timestamp>,
        checks -> Integer,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reviews (id) {
        id -> BigInt,
        product_id -> BigInt,
        user_id -> BigInt,
        rating -> Integer,
        title -> Text,
        body -> Text,
        verified_purchase -> Bool,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(products -> categories (category_id));
diesel::joinable!(cart_lines -> carts (cart_id));
diesel::joinable!(cart_lines -> variants (variant_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(fulfillments -> orders (order_id));
diesel::joinable!(fulfillment_lines -> fulfillments (fulfillment_id));
diesel::joinable!(fulfillment_lines -> order_lines (order_line_id));
diesel::joinable!(order_notes -> orders (order_id));
diesel::joinable!(shipping_zone_regions -> shipping_zones (zone_id));
diesel::joinable!(shipping_methods -> shipping_zones (zone_id));
diesel::joinable!(carts -> shipping_methods (shipping_method_id));
diesel::joinable!(collection_products -> collections (collection_id));
diesel::joinable!(collection_products -> products (product_id));
diesel::table! {
    /// Provider webhook events already applied.
    provider_events (id) {
        id -> Text,
        provider -> Text,
        kind -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    /// Partner apps.
    apps (id) {
        id -> BigInt,
        name -> Text,
        contact -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// API keys of partner apps; the secret only as SHA-256.
    api_keys (id) {
        id -> BigInt,
        app_id -> BigInt,
        prefix -> Text,
        secret_hash -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Sign-ups waiting for the email's owner to confirm them (token stored as SHA-256).
    sign_ups (id) {
        id -> BigInt,
        token_hash -> Text,
        email -> Text,
        password_hash -> Text,
        first_name -> Text,
        last_name -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Tokens mailed to verify an account's email, stored as SHA-256.
    email_verifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Who changed what and when.
    audit_log (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        subject_type -> Text,
        subject_id -> BigInt,
        details -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_positions (id) {
        id -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        event_type -> Text,
        subject_type -> Text,
        subject_id -> BigInt,
        payload -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> BigInt,
        app_id -> BigInt,
        url -> Text,
        event_types -> Text,
        scopes -> Text,
        secret -> Text,
        status -> Text,
        last_position -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        subscription_id -> BigInt,
        event_id -> BigInt,
        event_type -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        status_code -> Nullable<Integer>,
        error -> Text,
        latency_ms -> Integer,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    metadata (id) {
        id -> BigInt,
        product_id -> Nullable<BigInt>,
        variant_id -> Nullable<BigInt>,
        order_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        private -> Bool,
        key -> Text,
        value -> Text,
    }
}

diesel::joinable!(webhook_subscriptions -> apps (app_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(email_verifications -> users (user_id));
diesel::joinable!(api_keys -> apps (app_id));
diesel::joinable!(order_lines -> variants (variant_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(reviews -> products (product_id));
diesel::joinable!(reviews -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(addresses -> users (user_id));
diesel::joinable!(variants -> products (product_id));
diesel::joinable!(product_images -> products (product_id));

diesel::allow_tables_to_appear_in_same_query!(
    categories,
    metadata,
    products,
    variants,
    product_images,
    users,
    sessions,
    password_resets,
    addresses,
    discount_codes,
    carts,
    cart_lines,
    orders,
    shipping_zones,
    shipping_zone_regions,
    shipping_methods,
    tax_rates,
    collections,
    collection_products,
    order_lines,
    order_events,
    fulfillments,
    fulfillment_lines,
    order_notes,
    payments,
    reviews,
    provider_events,
    email_verifications,
    sign_ups,
    apps,
    api_keys,
    audit_log,
    event_positions,
    events,
    webhook_subscriptions,
    webhook_deliveries,
    webhook_attempts,
);
