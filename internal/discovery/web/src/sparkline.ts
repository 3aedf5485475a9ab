// A lag sparkline: the group's total lag over the last hour as a small
// SVG line, newest on the right, scaled to its own largest value.

const svgNS = "http://www.w3.org/2000/svg";

/** sparkline draws points (oldest first) in a width × height box. */
export function sparkline(points: { at: string; lag: number | string }[], width = 120, height = 24): SVGSVGElement {
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("data-testid", "lag-sparkline");
  svg.setAttribute("data-points", String(points.length));
  const values = points.map((p) => Number(p.lag));
  const top = Math.max(1, ...values);
  const title = document.createElementNS(svgNS, "title");
  title.textContent = points.length
    ? `lag over the last hour: ${values.length} points, max ${Math.max(...values)}, now ${values[values.length - 1]}`
    : "no lag history yet";
  svg.append(title);
  if (values.length === 0) return svg;
  const step = values.length > 1 ? (width - 2) / (values.length - 1) : 0;
  const coords = values.map((v, i) => `${(1 + i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
  if (values.length === 1) coords.push(`${width - 1},${coords[0].split(",")[1]}`);
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", coords.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}
