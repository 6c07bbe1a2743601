// The scheduler UI: DAG list, DAG page (task graph, runs × tasks grid, task
// instance panel with its log). Live: every view polls the REST API.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Shell } from "@shared/shell";
import { DagList } from "./dag_list";
import { DagPage } from "./dag_page";
import "./scheduler.css";

function route(): { page: "list" } | { page: "dag"; dag_id: string } {
  const match = location.hash.match(/^#\/dags\/([^/]+)/);
  return match ? { page: "dag", dag_id: decodeURIComponent(match[1]) } : { page: "list" };
}

function App() {
  const [current, setCurrent] = useState(route());
  useEffect(() => {
    const on_change = () => setCurrent(route());
    window.addEventListener("hashchange", on_change);
    return () => window.removeEventListener("hashchange", on_change);
  }, []);
  return (
    <Shell
      product="scheduler"
      current="dags"
      nav={[{ id: "dags", label: "DAGs", href: "#/" }]}
      links={[{ label: "REST API", href: "/api/v1/dags" }]}
    >
      {current.page === "dag" ? <DagPage dag_id={current.dag_id} /> : <DagList />}
    </Shell>
  );
}

render(<App />, document.getElementById("app")!);
