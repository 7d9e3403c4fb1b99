"""Schemathesis checks for Bazaar: what counts as a server error.

Schemathesis' built-in GraphQL check calls every `errors` entry of an executed operation a
server error, including answers the API documents as the client's: UNAUTHENTICATED,
FORBIDDEN, BAD_USER_INPUT, RATE_LIMITED. Bazaar gives every error an `extensions.code`, and
only INTERNAL_SERVER_ERROR (or a 5xx status) is the server's fault: that is what this fails on.
"""

import schemathesis


@schemathesis.check
def no_server_errors(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"not JSON (HTTP {response.status_code}): {response.text[:200]}")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None:
            raise AssertionError(f"an error without extensions.code: {error}")
        if code == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"internal server error: {error}")


# Bazaar's `Decimal` scalar: an exact amount sent as a string ("19.99"). Generate well-formed
# amounts (in and out of range) and some junk, which must come back as BAD_USER_INPUT.
from hypothesis import strategies as st  # noqa: E402
from schemathesis.graphql import nodes  # noqa: E402

schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(
            min_value=-1000, max_value=100000, places=2, allow_nan=False, allow_infinity=False
        ).map(lambda amount: nodes.String(str(amount))),
        st.text(max_size=12).map(nodes.String),
    ),
)
