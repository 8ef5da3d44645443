import { join } from "node:path";

export const GOLDEN_DIR = join(import.meta.dirname, "../../fixtures/golden");
