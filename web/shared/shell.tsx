// The frame of every millrace UI: header with the product name, the page
// navigation and links to the other millrace UIs, then the page.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get_json } from "./api";
import "./theme.css";

// GET /api/v1/auth/whoami, which every millrace HTTP server answers.
interface WhoAmI {
  security_enabled: boolean;
  user: string | null;
  method: string | null;
}

// Who the browser is logged in as (security.enabled: HTTP Basic, which the
// browser asked for on the first page load); nothing when security is off.
function LoggedIn() {
  const [who, setWho] = useState<WhoAmI | null>(null);
  useEffect(() => {
    get_json<WhoAmI>("/api/v1/auth/whoami").then(setWho, () => setWho(null));
  }, []);
  if (!who || !who.user) return null;
  return (
    <span class="shell-user" data-testid="logged-in-user" title={`authenticated by ${who.method ?? "?"}`}>
      {who.user}
    </span>
  );
}

export interface NavItem {
  id: string;
  label: string;
  href: string;
}

export interface ExternalLink {
  label: string;
  href: string;
}

export function Shell(props: {
  product: string;
  current: string;
  nav?: NavItem[];
  links: ExternalLink[];
  children: ComponentChildren;
}) {
  return (
    <>
      <header class="shell-header">
        <a class="shell-brand" href="/">
          millrace<span>{props.product}</span>
        </a>
        <nav class="shell-nav">
          {(props.nav ?? []).map((item) => (
            <a key={item.id} href={item.href} class={item.id === props.current ? "current" : ""}>
              {item.label}
            </a>
          ))}
        </nav>
        <div class="shell-links">
          {props.links.map((link) => (
            <a key={link.href} href={link.href} target="_blank" rel="noopener">
              {link.label} ↗
            </a>
          ))}
        </div>
        <LoggedIn />
      </header>
      <main class="shell-main">{props.children}</main>
    </>
  );
}

export function StateBadge(props: { state: string | null | undefined }) {
  const state = props.state ?? "none";
  return <span class={`badge state-${state}`}>{state}</span>;
}
