-- Functions PostGraphile exposes for the benchmark shapes that its generated schema cannot
-- express by itself, written the way a PostGraphile user would write them. bench/run creates
-- them in the bench database after seeding; Bazaar never calls them.

-- "text search with a price filter": Bazaar's `products(where: { search, price })` for a
-- shopper. ACTIVE products whose search text (lower-cased name, description and SKUs) contains
-- the lower-cased, trimmed phrase (LIKE wildcards in it escaped, as Bazaar's `search_pattern`
-- does), with a variant priced (minor units) within [min_price, max_price], by name then id.
-- Exposed as Query.searchProducts.
CREATE FUNCTION search_products(phrase text, min_price bigint, max_price bigint)
RETURNS SETOF products
LANGUAGE sql STABLE
AS $$
  SELECT p.*
  FROM products p
  WHERE p.status = 'ACTIVE'
    AND p.search_text LIKE '%' || replace(replace(replace(lower(btrim(phrase)),
          '\', '\\'), '%', '\%'), '_', '\_') || '%'
    AND EXISTS (
      SELECT 1 FROM variants v
      WHERE v.product_id = p.id
        AND v.price >= coalesce(min_price, -9223372036854775808)
        AND v.price <= coalesce(max_price, 9223372036854775807))
  ORDER BY p.name, p.id
$$;

-- "place order": what Bazaar's checkoutComplete does for a cart without a discount code, in
-- one transaction (the mutation's): replay by idempotency key, load the cart (refuse a missing,
-- completed, empty cart or one with a line no longer sold), price it at current variant
-- prices with the shop's policy (bench/run starts Bazaar with the defaults: flat shipping
-- 5.00, free from 50.00, no tax), insert the order, take the stock with a conditional update
-- (raising if it would go below 0), snapshot the lines, record the CREATED event, mark the
-- cart completed. Exposed as Mutation.placeOrder.
CREATE FUNCTION place_order(cart_token text, email text, shipping_address jsonb,
                            idempotency_key text)
RETURNS orders
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  the_cart carts;
  the_order orders;
  the_email text := lower(btrim(email));
  the_key text := btrim(idempotency_key);
  hash text;
  sub bigint;
  lines integer;
  ship bigint;
  item record;
  unsold integer;
  now_utc timestamp := now() AT TIME ZONE 'UTC';
BEGIN
  IF the_email !~ '^[^@\s]+@[^@\s]+$' THEN
    RAISE EXCEPTION 'invalid email' USING ERRCODE = '22023';
  END IF;
  IF coalesce(shipping_address->>'firstName', '') = '' OR coalesce(shipping_address->>'line1', '') = ''
     OR coalesce(shipping_address->>'city', '') = ''
     OR coalesce(shipping_address->>'countryCode', '') !~ '^[A-Z]{2}$' THEN
    RAISE EXCEPTION 'invalid shipping address' USING ERRCODE = '22023';
  END IF;
  IF the_key = '' OR char_length(the_key) > 200 THEN
    RAISE EXCEPTION 'an idempotency key has 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  hash := encode(sha256(convert_to(cart_token || chr(1) || the_email || chr(1)
                                   || shipping_address::text, 'UTF8')), 'hex');
  SELECT * INTO the_order FROM orders o WHERE o.idempotency_key = the_key;
  IF FOUND THEN
    IF the_order.request_hash = hash THEN
      RETURN the_order;
    END IF;
    RAISE EXCEPTION 'this idempotency key was used for a different checkout' USING ERRCODE = '22023';
  END IF;

  SELECT * INTO the_cart FROM carts c WHERE c.token = cart_token;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such cart' USING ERRCODE = '22023';
  END IF;
  IF the_cart.order_id IS NOT NULL THEN
    RAISE EXCEPTION 'this cart has already been checked out' USING ERRCODE = '22023';
  END IF;
  IF the_cart.discount_code_id IS NOT NULL THEN
    RAISE EXCEPTION 'discount codes are not supported here' USING ERRCODE = '0A000';
  END IF;
  SELECT coalesce(sum(v.price * l.quantity), 0), count(*),
         count(*) FILTER (WHERE v.archived_at IS NOT NULL OR p.status <> 'ACTIVE')
    INTO sub, lines, unsold
    FROM cart_lines l JOIN variants v ON v.id = l.variant_id JOIN products p ON p.id = v.product_id
    WHERE l.cart_id = the_cart.id;
  IF lines = 0 THEN
    RAISE EXCEPTION 'the cart is empty' USING ERRCODE = '22023';
  END IF;
  IF unsold > 0 THEN
    RAISE EXCEPTION 'a line is no longer sold; remove it from the cart' USING ERRCODE = '22023';
  END IF;
  ship := CASE WHEN sub >= 5000 THEN 0 ELSE 500 END;

  INSERT INTO orders (user_id, email, status, currency, subtotal, discount_total, shipping_total,
                      tax_total, total, discount_code, shipping_address, idempotency_key,
                      request_hash, created_at, updated_at)
  VALUES (the_cart.user_id, the_email, 'PENDING_PAYMENT', 'USD', sub, 0, ship, 0, sub + ship,
          NULL, shipping_address::text, the_key, hash, now_utc, now_utc)
  RETURNING * INTO the_order;

  FOR item IN
    SELECT l.variant_id, l.quantity, v.sku, v.stock
    FROM cart_lines l JOIN variants v ON v.id = l.variant_id
    WHERE l.cart_id = the_cart.id ORDER BY l.id
  LOOP
    UPDATE variants SET stock = stock - item.quantity
      WHERE id = item.variant_id AND stock >= item.quantity;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'only % of % left in stock', greatest(item.stock, 0), item.sku
        USING ERRCODE = '22023';
    END IF;
  END LOOP;

  INSERT INTO order_lines (order_id, variant_id, product_id, product_name, variant_title, sku,
                           unit_price, quantity, line_total)
  SELECT the_order.id, v.id, p.id, p.name, v.title, v.sku, v.price, l.quantity,
         v.price * l.quantity
  FROM cart_lines l JOIN variants v ON v.id = l.variant_id JOIN products p ON p.id = v.product_id
  WHERE l.cart_id = the_cart.id ORDER BY l.id;
  INSERT INTO order_events (order_id, kind, from_status, to_status, actor_id, created_at)
  VALUES (the_order.id, 'CREATED', NULL, 'PENDING_PAYMENT', NULL, now_utc);
  UPDATE carts SET order_id = the_order.id WHERE id = the_cart.id AND order_id IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'this cart has already been checked out' USING ERRCODE = '22023';
  END IF;
  RETURN the_order;
END
$$;
