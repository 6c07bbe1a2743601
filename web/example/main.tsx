// The smallest UI on the shared toolchain; a template for web/scheduler and
// web/console, and the fixture of the embedding test.
import { render } from "preact";
import { useState } from "preact/hooks";
import { Shell } from "@shared/shell";

function App() {
  const [count, setCount] = useState(0);
  return (
    <Shell product="example" current="example" links={[]}>
      <section class="card">
        <h2>Example</h2>
        <button class="button" onClick={() => setCount(count + 1)}>clicked {count}</button>
      </section>
    </Shell>
  );
}

render(<App />, document.getElementById("app")!);
