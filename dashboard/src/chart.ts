// uPlot line and bar charts that keep their instance and take new data with setData (cheap on every block).
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface SeriesSpec {
  label: string;
  color: string;
  /** A value as the legend shows it. */
  format?: (v: number) => string;
  scale?: string;
}

const WIDTH = () => Math.max(320, Math.min(900, window.innerWidth - 80));

/** A time-series chart (x = ms since epoch) in `host`; returns a function taking new data. */
export function lineChart(host: HTMLElement, title: string, series: SeriesSpec[], height = 220): (x: number[], ys: number[][]) => void {
  const scales: uPlot.Scales = { x: { time: true } };
  const axes: uPlot.Axis[] = [{}];
  for (const s of series) {
    const key = s.scale ?? "y";
    if (!scales[key]) {
      scales[key] = { auto: true };
      axes.push({ scale: key, side: axes.length === 1 ? 3 : 1, size: 110, values: (_u, ticks) => ticks.map((t) => (s.format ? s.format(t) : String(t))) });
    }
  }
  const opts: uPlot.Options = {
    title,
    width: WIDTH(),
    height,
    scales,
    axes,
    series: [
      { value: (_u, v) => (v === null ? "—" : new Date(v * 1000).toISOString().slice(11, 19)) },
      ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.scale ?? "y", value: (_u: uPlot, v: number | null) => (v === null ? "—" : s.format ? s.format(v) : String(v)) })),
    ],
  };
  const plot = new uPlot(opts, [[], ...series.map(() => [])], host);
  return (x, ys) => plot.setData([x.map((t) => t / 1000), ...ys]);
}

/** A bar chart over categories (x = index, labelled by `labels`). */
export function barChart(host: HTMLElement, title: string, label: string, color: string, labels: string[], values: number[], height = 220): void {
  const bars = uPlot.paths.bars?.({ size: [0.7, 60] });
  const opts: uPlot.Options = {
    title,
    width: WIDTH(),
    height,
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: [0, Math.max(1, ...values) * 1.05] } },
    axes: [{ values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? (labels[t] ?? "") : "")), incrs: [1] }, { size: 60 }],
    series: [{}, { label, stroke: color, fill: `${color}99`, paths: bars, points: { show: false } }],
  };
  new uPlot(opts, [labels.map((_, i) => i), values], host);
}
