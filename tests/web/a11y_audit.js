// Page checks run in the browser: WCAG 2.1 contrast (1.4.3), labels (1.3.1/4.1.2), lang (3.1.1).
(() => {
  const problems = [];
  if (!document.documentElement.getAttribute('lang')) problems.push('html has no lang');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || el.closest('[aria-hidden="true"]')) continue;
    if (!el.labels || el.labels.length === 0) problems.push('no label: ' + (el.name || el.id));
  }
  const lum = (rgb) => {
    const c = rgb.map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const parse = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const texts = document.querySelectorAll(
    'h1, h2, h3, p, li, a, button, label, legend, th, td, span, time, address, strong, option');
  for (const el of texts) {
    if (el.closest('[aria-hidden="true"]')) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || el.tagName === 'OPTION') continue;
    const style = getComputedStyle(el);
    const fg = lum(parse(style.color).slice(0, 3)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) problems.push(
      `contrast ${ratio.toFixed(2)}: ${el.tagName} "${el.textContent.trim().slice(0, 40)}"`);
  }
  return problems;
})
