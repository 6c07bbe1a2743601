// A time-series chart on uPlot.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface series_spec {
  label: string;
  color: string;
  points: [number, number][];  // [time ms, value]
}

export function TimeChart(props: { series: series_spec[]; height?: number; unit?: string; testid?: string }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = props.series.map((s) => s.label).join("|");

  const data = (): uPlot.AlignedData => {
    const times = new Set<number>();
    props.series.forEach((s) => s.points.forEach(([t]) => times.add(t)));
    const xs = [...times].sort((a, b) => a - b);
    const columns = props.series.map((s) => {
      const by_time = new Map(s.points.map(([t, v]) => [t, v]));
      return xs.map((t) => (by_time.has(t) ? by_time.get(t)! : null));
    });
    return [xs.map((t) => t / 1000), ...columns] as uPlot.AlignedData;
  };

  useEffect(() => {
    if (!host.current) return;
    const width = Math.max(300, host.current.clientWidth);
    const opts: uPlot.Options = {
      width,
      height: props.height ?? 180,
      series: [
        { value: (_u, v) => (v === null || v === undefined ? "" : clock(v)) },
        ...props.series.map((s) => ({
          label: s.label, stroke: s.color, width: 2, spanGaps: true,
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "" : format_axis(v) + (props.unit ?? "")),
        })),
      ],
      axes: [
        { values: (_u, ticks) => ticks.map((t) => clock(t)) },
        { values: (_u, ticks) => ticks.map((v) => format_axis(v) + (props.unit ?? "")), size: 70 },
      ],
      scales: { y: { range: (_u, min, max) => [0, Math.max(1, max, min)] } },
      // Values show while the cursor is over the chart; otherwise the latest (never "--").
      legend: { show: true, live: true },
      cursor: { show: true },
    };
    plot.current = new uPlot(opts, data(), host.current);
    const resize = () => host.current && plot.current?.setSize({ width: host.current.clientWidth, height: props.height ?? 180 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key]);

  useEffect(() => {
    const d = data();
    plot.current?.setData(d);
    // With the cursor away, the legend shows the newest values instead of "--".
    const last = d[0].length - 1;
    if (plot.current && last >= 0) plot.current.setLegend({ idx: last });
  });

  return <div ref={host} class="chart" data-testid={props.testid} />;
}

// Seconds since the epoch as the local "HH:MM:SS".
function clock(seconds: number): string {
  const d = new Date(seconds * 1000);
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

function format_axis(v: number): string {
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
