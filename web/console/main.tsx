// The console's single-page app: overview, topics, message browser, consumer
// groups, schemas, tables and the pipeline, with live updates from the
// backend's server-sent events. Pages are addressed by the URL hash.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Shell } from "@shared/shell";
import { use_json } from "./live";
import { OverviewPage } from "./pages/overview";
import { TopicsPage, TopicPage } from "./pages/topics";
import { MessagesPage } from "./pages/messages";
import { GroupsPage, GroupPage } from "./pages/groups";
import { SchemasPage } from "./pages/schemas";
import { TablesPage } from "./pages/tables";
import { PipelinePage } from "./pages/pipeline";
import { JobsPage } from "./pages/jobs";
import { CqlPage } from "./pages/cql";
import "./console.css";

interface info {
  kafka: string;
  pipeline_table?: string;
  registry?: string;
  scheduler_ui: string | null;
}

function use_route(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, "") || "overview").split("/").map(decodeURIComponent);
  const [route, set_route] = useState(read());
  useEffect(() => {
    const on_change = () => set_route(read());
    window.addEventListener("hashchange", on_change);
    return () => window.removeEventListener("hashchange", on_change);
  }, []);
  return route;
}

const nav = [
  { id: "overview", label: "Overview", href: "#/overview" },
  { id: "topics", label: "Topics", href: "#/topics" },
  { id: "messages", label: "Messages", href: "#/messages" },
  { id: "groups", label: "Consumer groups", href: "#/groups" },
  { id: "schemas", label: "Schemas", href: "#/schemas" },
  { id: "tables", label: "Tables", href: "#/tables" },
  { id: "cql", label: "CQL", href: "#/cql" },
  { id: "pipeline", label: "Pipeline", href: "#/pipeline" },
  { id: "jobs", label: "Jobs", href: "#/jobs" },
];

// Keyboard: g then o/t/m/c/s/b/q/p/j jumps to a page.
function use_shortcuts() {
  useEffect(() => {
    let pending = false;
    const keys: Record<string, string> = { o: "overview", t: "topics", m: "messages", c: "groups", s: "schemas", b: "tables", q: "cql", p: "pipeline", j: "jobs" };
    const on_key = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (target && ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
      if (pending && keys[e.key]) {
        location.hash = `#/${keys[e.key]}`;
        pending = false;
        return;
      }
      pending = e.key === "g";
    };
    window.addEventListener("keydown", on_key);
    return () => window.removeEventListener("keydown", on_key);
  }, []);
}

function App() {
  const route = use_route();
  const { data: about } = use_json<info>("/api/info");
  use_shortcuts();
  const [page, ...rest] = route;
  const links = about?.scheduler_ui ? [{ label: "Scheduler", href: about.scheduler_ui }] : [];
  let body;
  switch (page) {
    case "topics":
      body = rest.length ? <TopicPage name={rest[0]} /> : <TopicsPage />;
      break;
    case "messages":
      body = <MessagesPage topic={rest[0] ?? ""} />;
      break;
    case "groups":
      body = rest.length ? <GroupPage id={rest.join("/")} /> : <GroupsPage />;
      break;
    case "schemas":
      body = <SchemasPage subject={rest[0] ?? ""} />;
      break;
    case "tables":
      body = <TablesPage path={rest} />;
      break;
    case "cql":
      body = <CqlPage table={rest[0] ?? about?.pipeline_table ?? ""} />;
      break;
    case "pipeline":
      body = <PipelinePage scheduler_ui={about?.scheduler_ui ?? null} />;
      break;
    case "jobs":
      body = <JobsPage />;
      break;
    default:
      body = <OverviewPage scheduler_ui={about?.scheduler_ui ?? null} />;
  }
  return (
    <Shell product="console" current={page === "" ? "overview" : page} nav={nav} links={links}>
      {body}
    </Shell>
  );
}

render(<App />, document.getElementById("app")!);
