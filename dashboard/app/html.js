// Components without a build step: htm turns tagged templates into Preact elements.
import { h } from "../vendor/preact.mjs";
import htm from "../vendor/htm.mjs";

export const html = htm.bind(h);
