// The frame of every millrace UI: header with the product name, the page
// navigation and links to the other millrace UIs, then the page.
import type { ComponentChildren } from "preact";
import "./theme.css";

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
      </header>
      <main class="shell-main">{props.children}</main>
    </>
  );
}

export function StateBadge(props: { state: string | null | undefined }) {
  const state = props.state ?? "none";
  return <span class={`badge state-${state}`}>{state}</span>;
}
