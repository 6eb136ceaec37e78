import { describe, expect, it } from "vitest";
import { renderTemplate, validateTemplate } from "../lib/alerts/template";

// Expected strings are what Prometheus (template/template.go on Go's text/template and fmt) prints.

const labels = { __name__: "mqtt_connections_current", broker: "eu-1", instance: "10.0.0.7:1883" };
const render = (
  text: string,
  value = 0,
  extra: Partial<{ labels: Record<string, string>; externalLabels: Record<string, string> }> = {},
) => renderTemplate(text, { labels, value, ...extra });

describe("data", () => {
  it("prints labels and the value the way Go's fmt prints a float64", () => {
    expect(render("{{ $labels.broker }} at {{ $value }}", 0.8571428571428571)).toBe("eu-1 at 0.8571428571428571");
    expect(render("{{ $value }}", 150000)).toBe("150000");
    expect(render("{{ $value }}", 1e6)).toBe("1e+06"); // shortest %g: exponent form from 1e6 on
    expect(render("{{ $value }}", 1234567)).toBe("1.234567e+06");
    expect(render("{{ $value }}", 0.00001)).toBe("1e-05");
    expect(render("{{ $value }} {{ $value }}", Infinity)).toBe("+Inf +Inf");
    expect(render("{{ $value }}", NaN)).toBe("NaN");
  });

  it("renders a missing label as empty (Prometheus sets missingkey=zero)", () => {
    expect(render("[{{ $labels.cluster }}]")).toBe("[]");
  });

  it("accepts the .Labels/.Value spellings and $externalLabels", () => {
    expect(
      render("{{ .Labels.broker }}/{{ .Value }}/{{ $externalLabels.site }}", 3, { externalLabels: { site: "fra" } }),
    ).toBe("eu-1/3/fra");
  });

  it("trims around {{- -}} and drops comments", () => {
    expect(render("a  {{- $labels.broker -}}  b {{/* note */}}c {{- /* trimmed */ -}} d")).toBe("aeu-1b cd");
  });
});

describe("functions", () => {
  it("humanize: SI prefixes with 4 significant digits", () => {
    expect(render("{{ humanize $value }}", 1234.5)).toBe("1.234k"); // 1.2345 is stored as 1.23449999…
    expect(render("{{ humanize $value }}", 1234567)).toBe("1.235M");
    expect(render("{{ $value | humanize }}", 150000)).toBe("150k");
    expect(render("{{ humanize $value }}", 0.000123)).toBe("123u");
    expect(render("{{ humanize $value }}", 0.5)).toBe("500m");
    expect(render("{{ humanize $value }}", -2500)).toBe("-2.5k");
    expect(render("{{ humanize $value }}", 0)).toBe("0");
    expect(render("{{ humanize $value }}", 1e30)).toBe("1e+06Y");
    expect(render('{{ humanize "4294967296" }}')).toBe("4.295G");
  });

  it("humanize1024: binary prefixes", () => {
    expect(render("{{ humanize1024 $value }}", 4294967296)).toBe("4Gi");
    expect(render("{{ humanize1024 $value }}", 1536)).toBe("1.5ki");
    expect(render("{{ humanize1024 $value }}", 1)).toBe("1");
  });

  it("humanizePercentage: ×100 with %.4g", () => {
    expect(render("{{ $value | humanizePercentage }}", 0.8571428571428571)).toBe("85.71%");
    expect(render("{{ humanizePercentage $value }}", 0.9)).toBe("90%");
    expect(render("{{ humanizePercentage $value }}", 12.3456)).toBe("1235%");
    expect(render("{{ humanizePercentage $value }}", 1000)).toBe("1e+05%");
  });

  it("humanizeDuration: d/h/m/s with integer seconds, else 4 significant digits", () => {
    expect(render("{{ humanizeDuration $value }}", 90061)).toBe("1d 1h 1m 1s");
    expect(render("{{ humanizeDuration $value }}", 3601.9)).toBe("1h 0m 1s");
    expect(render("{{ humanizeDuration $value }}", 61)).toBe("1m 1s");
    expect(render("{{ humanizeDuration $value }}", 1.5)).toBe("1.5s");
    expect(render("{{ humanizeDuration $value }}", 0.0015)).toBe("1.5ms");
    expect(render("{{ humanizeDuration $value }}", 0)).toBe("0s");
    expect(render("{{ humanizeDuration $value }}", -90)).toBe("-1m 30s");
  });

  it("printf: %d %f %.Nf %s %v with Go's rounding (exact binary value, ties to even)", () => {
    expect(render('{{ printf "%.2f" $value }}', 0.8571428571428571)).toBe("0.86");
    expect(render('{{ $value | printf "%.1f%%" }}', 85.75)).toBe("85.8%"); // 85.75 is exact: tie → even 8
    expect(render('{{ printf "%.0f %.0f %.0f" 0.5 1.5 2.5 }}')).toBe("0 2 2");
    expect(render('{{ printf "%.2f" 1.005 }}')).toBe("1.00"); // 1.005 is stored as 1.00499999…
    expect(render('{{ printf "%f" $value }}', 2)).toBe("2.000000");
    expect(render('{{ printf "%d clients on %s" 42 $labels.broker }}')).toBe("42 clients on eu-1");
    expect(render('{{ printf "%v|%e|%g|%.3g" $value $value $value $value }}', 1234.5678)).toBe(
      "1234.5678|1.234568e+03|1234.5678|1.23e+03",
    );
  });

  it("printf marks mismatched arguments exactly as Go's fmt does", () => {
    expect(render('{{ printf "%d" $value }}', 2.5)).toBe("%!d(float64=2.5)");
    expect(render('{{ printf "%s and %s" $labels.broker }}')).toBe("eu-1 and %!s(MISSING)");
    expect(render('{{ printf "%s" "a" 1 }}')).toBe("a%!(EXTRA int=1)");
  });

  it("toUpper, toLower, title", () => {
    expect(render("{{ $labels.broker | toUpper }}")).toBe("EU-1");
    expect(render('{{ toLower "EU-1" }}')).toBe("eu-1");
    expect(render('{{ title "broker eu-1 down" }}')).toBe("Broker Eu-1 Down");
    expect(render('{{ toUpper "straße" }}')).toBe("STRAßE"); // rune-wise like Go, not "STRASSE"
  });
});

describe("errors are reported, never thrown", () => {
  const broken: [string, string][] = [
    ["{{ humanise $value }}", 'function "humanise" not defined'],
    ["{{ $value", "unclosed action"],
    ["{{ $lables.broker }}", 'undefined variable "$lables"'],
    ["{{ if $value }}x{{ end }}", '"{{ if }}" is not supported (no control structures)'],
    ["{{ humanize }}", "wrong number of args for humanize: want 1 got 0"],
    ["{{ $value | $value }}", "non executable command in pipeline stage 2"],
    [
      '{{ printf "%x" $value }}',
      'printf: unsupported verb "%x" (supported: %d %s %v %f %e %g, precision for %f %e %g)',
    ],
    ["{{ $value.foo }}", "can't evaluate field foo in type float64"],
  ];

  it.each(broken)("validateTemplate(%j) explains the problem at load time", (text, message) => {
    expect(validateTemplate(text)).toBe(message);
    expect(render(text)).toBe(`${text} <error expanding template: ${message}>`);
  });

  it("reports run-time type errors in the rendered text", () => {
    const text = "{{ humanize $labels.broker }}";
    expect(validateTemplate(text)).toBeNull();
    expect(render(text)).toBe(`${text} <error expanding template: strconv.ParseFloat: parsing "eu-1": invalid syntax>`);
    expect(render("{{ toUpper $value }}", 1)).toBe(
      "{{ toUpper $value }} <error expanding template: wrong type for value; expected string; got float64>",
    );
  });

  it("accepts plain text and valid templates", () => {
    expect(validateTemplate("no actions at all")).toBeNull();
    expect(
      validateTemplate('{{ $labels.instance }} is at {{ $value | humanizePercentage }} ({{ printf "%.1f" $value }})'),
    ).toBeNull();
  });
});
