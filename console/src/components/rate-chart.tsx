/** A uPlot line chart of per-second rates over time, one series per event type. */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const COLORS = ["#2d6cdf", "#1c8b4c", "#b26b00", "#c73a3a", "#7b3fc4", "#008b8b", "#6b7280", "#d946ef"];

/** x: seconds since the epoch; one array of rates per series. */
export function RateChart({ title, x, series }: { title: string; x: number[]; series: { label: string; values: (number | null)[] }[] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const shape = series.map((s) => s.label).join("\u0000");
  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const options: uPlot.Options = {
      title,
      width: Math.max(320, element.clientWidth),
      height: 220,
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label: "events/s", size: 60 }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length] ?? "#2d6cdf", width: 2, points: { show: false } }))],
    };
    plot.current = new uPlot(options, [x, ...series.map((s) => s.values)], element);
    return () => {
      plot.current?.destroy();
      plot.current = undefined;
    };
    // Rebuilt only when the series change; data updates go through setData.
  }, [title, shape]);
  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)]);
  }, [x, series]);
  return <div class="chart" ref={host} data-testid={`chart-${title}`} />;
}
