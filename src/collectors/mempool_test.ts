import { assertEquals } from "../../tests/support/assert.ts";
import { histogramFromDiagram } from "./mempool.ts";

Deno.test("histogramFromDiagram: each chunk's vsize goes whole into the first bucket at or above its rate", () => {
  // Chunks of 400 WU (100 vB): 10 sat/vB (1000 sat), exactly 5 sat/vB (500 sat), 1.01 sat/vB (101 sat).
  const h = histogramFromDiagram(
    [{ weight: 0, fee: 0 }, { weight: 400, fee: 1000 }, { weight: 800, fee: 1500 }, { weight: 1200, fee: 1601 }],
    [1, 2, 5, 8],
  );
  assertEquals(h, { bounds: [1, 2, 5, 8], counts: [0, 100, 100, 0, 100], sum: 1601 });
});

Deno.test("histogramFromDiagram: integer comparison at a bound; quarter vbytes kept exactly", () => {
  // 437 WU paying 1000 sat: 9.153 sat/vB, in (8, 10]; 109.25 vB, not rounded.
  const h = histogramFromDiagram([{ weight: 0, fee: 0 }, { weight: 437, fee: 1000 }], [8, 10]);
  assertEquals(h, { bounds: [8, 10], counts: [0, 109.25, 0], sum: 1000 });
  // Exactly on the bound: 4 * 250 = 1000 = 10 * 100 goes into le=10, not above it.
  const on = histogramFromDiagram([{ weight: 0, fee: 0 }, { weight: 100, fee: 250 }], [10]);
  assertEquals(on, { bounds: [10], counts: [25, 0], sum: 250 });
});

Deno.test("histogramFromDiagram: an empty mempool is zeros; a malformed diagram is a problem, not data", () => {
  assertEquals(histogramFromDiagram([{ weight: 0, fee: 0 }], [1]), { bounds: [1], counts: [0, 0], sum: 0 });
  assertEquals(histogramFromDiagram([], [1]), { bounds: [1], counts: [0, 0], sum: 0 });
  assertEquals(histogramFromDiagram([{ weight: 4, fee: 1 }], [1]), "the first point is not (0, 0)");
  assertEquals(
    histogramFromDiagram([{ weight: 0, fee: 0 }, { weight: 8, fee: 1 }, { weight: 4, fee: 2 }], [1]),
    "weights go backwards",
  );
});
