// A plain-SVG bar chart, as the Stats view's hourly chart and the Analytics view's charts draw it:
// one bar a value (each with its title for pointer users), a baseline, a few tick labels and the
// largest value at the top left. The chart is one image for assistive technology, described by
// `label`; each view gives the numbers as text beside it.

const SVG_NS = "http://www.w3.org/2000/svg";

function svgNode(name, attrs) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * values: numbers; ticks: [index, text] pairs; titleOf(i, v): a bar's title; barClass(i): its class.
 * size: {width, height, pad (below the baseline, for the ticks), headroom (above the tallest bar),
 * tickDy and maxY (text positions)}. hitTargets: a transparent full-height target per bar, so thin
 * bars are easy to hover.
 */
export function barChart({ values, label, ticks, titleOf, barClass, className, maxText, size, hitTargets = false }) {
  const { width: W, height: H, pad, headroom, tickDy, maxY } = size;
  const max = Math.max(1, ...values);
  const bw = W / Math.max(1, values.length);
  const svg = svgNode("svg", { viewBox: `0 0 ${W} ${H + pad}`, class: className, role: "img", "aria-label": label });
  values.forEach((v, i) => {
    const bh = v ? Math.max(2, (v / max) * (H - headroom)) : 0;
    const bar = svgNode("rect", {
      x: (i * bw + 1).toFixed(1), y: (H - bh).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: bh.toFixed(1), class: barClass(i),
    });
    const title = svgNode("title", {});
    title.textContent = titleOf(i, v);
    bar.appendChild(title);
    svg.appendChild(bar);
    if (hitTargets) {
      const hit = svgNode("rect", { x: (i * bw).toFixed(1), y: "0", width: bw.toFixed(1), height: H, fill: "transparent" });
      hit.appendChild(title.cloneNode(true));
      svg.appendChild(hit);
    }
  });
  svg.appendChild(svgNode("line", { x1: 0, x2: W, y1: H, y2: H, class: "axis" }));
  for (const [i, text] of ticks) {
    const tick = svgNode("text", {
      x: Math.min(W - 2, Math.max(2, i * bw + bw / 2)),
      y: H + pad - tickDy,
      "text-anchor": i === 0 ? "start" : i === values.length - 1 ? "end" : "middle",
    });
    tick.textContent = text;
    svg.appendChild(tick);
  }
  const top = svgNode("text", { x: 2, y: maxY });
  top.textContent = maxText(max);
  svg.appendChild(top);
  return svg;
}
