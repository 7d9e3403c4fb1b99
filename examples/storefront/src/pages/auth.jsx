// Signing in (the anonymous cart joins the customer's), signing up (a mailed link confirms
// it), and resetting a forgotten password (a mailed link too).
import { useEffect, useState } from "preact/hooks";
import { useMutation } from "@urql/preact";
import { Errors } from "../components.jsx";
import { Link, navigate } from "../router.jsx";
import { getState, setState } from "../store.js";

const LOGIN = `
  mutation SignIn($email: String!, $password: String!, $cartId: ID) {
    login(email: $email, password: $password, cartId: $cartId) {
      session { token }
      cart { id }
      userErrors { field message code }
    }
  }
`;
const REGISTER = `
  mutation SignUp($input: AccountRegisterInput!) {
    accountRegister(input: $input) { accepted userErrors { field message code } }
  }
`;
const CONFIRM = `
  mutation ConfirmSignUp($token: String!) {
    accountRegisterConfirm(token: $token) {
      account { id email }
      session { token }
      userErrors { field message code }
    }
  }
`;
const RESET_REQUEST = `
  mutation($email: String!) { passwordResetRequest(email: $email) { accepted userErrors { field message code } } }
`;
const RESET = `
  mutation($token: String!, $password: String!) {
    passwordReset(token: $token, newPassword: $password) { passwordChanged userErrors { field message code } }
  }
`;

/** Where to go after signing in: only a path of this shop. */
const safeNext = (next) => (next && next.startsWith("/") && !next.startsWith("//") ? next : "/account");

/** A text input bound to a field of `values`. */
function Field({ label, name, values, set, ...rest }) {
  return (
    <label class="field">
      {label}
      <input name={name} value={values[name]} onInput={(e) => set({ ...values, [name]: e.currentTarget.value })} {...rest} />
    </label>
  );
}

export function SignIn({ next }) {
  const [values, set] = useState({ email: "", password: "" });
  const [result, login] = useMutation(LOGIN);
  const submit = async (event) => {
    event.preventDefault();
    const { data } = await login({ ...values, cartId: getState().cartId });
    const session = data?.login.session;
    if (session) {
      // The customer's cart now: the anonymous one merged into it, or theirs from before.
      setState({ token: session.token, cartId: data.login.cart?.id ?? null });
      navigate(safeNext(next), { replace: true });
    }
  };
  return (
    <form class="panel" onSubmit={submit}>
      <h1>Sign in</h1>
      <Field label="Email" name="email" type="email" autoComplete="email" required values={values} set={set} />
      <Field label="Password" name="password" type="password" autoComplete="current-password" required values={values} set={set} />
      <Errors error={result.error} userErrors={result.data?.login.userErrors} />
      <button type="submit" disabled={result.fetching}>Sign in</button>
      <p>
        New here? <Link href={`/sign-up${next ? `?next=${encodeURIComponent(next)}` : ""}`}>Create an account</Link>
        {" · "}
        <Link href="/forgot-password">Forgot your password?</Link>
      </p>
    </form>
  );
}

export function SignUp({ next }) {
  const [values, set] = useState({ email: "", password: "", firstName: "", lastName: "" });
  const [result, register] = useMutation(REGISTER);
  const submit = (event) => {
    event.preventDefault();
    // The confirmation link comes back to this shop; remember where the shopper was going.
    if (next) sessionStorage.setItem("bazaar.next", next);
    register({ input: values });
  };
  if (result.data?.accountRegister.accepted) {
    return (
      <div class="panel" role="status">
        <h1>Check your email</h1>
        <p>We sent a link to <strong>{values.email}</strong>. Open it to finish creating your account.</p>
      </div>
    );
  }
  return (
    <form class="panel" onSubmit={submit}>
      <h1>Create an account</h1>
      <Field label="First name" name="firstName" autoComplete="given-name" values={values} set={set} />
      <Field label="Last name" name="lastName" autoComplete="family-name" values={values} set={set} />
      <Field label="Email" name="email" type="email" autoComplete="email" required values={values} set={set} />
      <Field label="Password (at least 8 characters)" name="password" type="password" autoComplete="new-password"
        minLength={8} required values={values} set={set} />
      <Errors error={result.error} userErrors={result.data?.accountRegister.userErrors} />
      <button type="submit" disabled={result.fetching}>Create account</button>
      <p>Have an account? <Link href="/sign-in">Sign in</Link></p>
    </form>
  );
}

export function ConfirmSignUp({ token }) {
  const [result, confirm] = useMutation(CONFIRM);
  useEffect(() => {
    if (!token) return;
    confirm({ token }).then(({ data }) => {
      const session = data?.accountRegisterConfirm.session;
      if (!session) return;
      // accountRegisterConfirm takes no cart: the anonymous cart (kept) is checked out as the
      // new customer's all the same.
      setState({ token: session.token });
      const next = sessionStorage.getItem("bazaar.next");
      sessionStorage.removeItem("bazaar.next");
      navigate(safeNext(next), { replace: true });
    });
  }, [token]);
  return (
    <div class="panel">
      <h1>Confirming your account…</h1>
      <Errors error={result.error} userErrors={result.data?.accountRegisterConfirm.userErrors} />
      {!token && <p>This link has no token.</p>}
    </div>
  );
}

export function ForgotPassword() {
  const [values, set] = useState({ email: "" });
  const [result, request] = useMutation(RESET_REQUEST);
  if (result.data?.passwordResetRequest.accepted) {
    return <p class="panel" role="status">If {values.email} has an account, a link to reset its password is on its way.</p>;
  }
  return (
    <form class="panel" onSubmit={(e) => { e.preventDefault(); request(values); }}>
      <h1>Reset your password</h1>
      <Field label="Email" name="email" type="email" required values={values} set={set} />
      <Errors error={result.error} userErrors={result.data?.passwordResetRequest.userErrors} />
      <button type="submit" disabled={result.fetching}>Send the link</button>
    </form>
  );
}

export function ResetPassword({ token }) {
  const [values, set] = useState({ password: "" });
  const [result, reset] = useMutation(RESET);
  if (result.data?.passwordReset.passwordChanged) {
    return <p class="panel" role="status">Your password is changed. <Link href="/sign-in">Sign in</Link></p>;
  }
  return (
    <form class="panel" onSubmit={(e) => { e.preventDefault(); reset({ token: token ?? "", ...values }); }}>
      <h1>Choose a new password</h1>
      <Field label="New password" name="password" type="password" autoComplete="new-password" minLength={8} required
        values={values} set={set} />
      <Errors error={result.error} userErrors={result.data?.passwordReset.userErrors} />
      <button type="submit" disabled={result.fetching}>Change password</button>
    </form>
  );
}
