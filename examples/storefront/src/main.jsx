// Mounts the storefront: one urql client per session (see client.js), the layout and the pages.
import { render } from "preact";
import { useMemo } from "preact/hooks";
import { Provider } from "@urql/preact";
import { makeClient } from "./client.js";
import { useStore } from "./store.js";
import { App } from "./app.jsx";
import "./styles.css";

function Root() {
  const { token } = useStore();
  const client = useMemo(() => makeClient(token), [token]);
  return (
    <Provider value={client}>
      <App key={token ?? "guest"} />
    </Provider>
  );
}

render(<Root />, document.getElementById("app"));
