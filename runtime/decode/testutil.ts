// Helpers shared by this folder's tests: runtime/model's seeded RNG and normal draws.
export { rng } from '../model/testutil.js';

/** A standard normal draw (Box-Muller). */
export const normal = (r: () => number): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
