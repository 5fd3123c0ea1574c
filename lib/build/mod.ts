/**
 * Building: `berth build`, an image from a Containerfile.
 *
 * It offers {@linkcode buildImage}: a Containerfile's stages run step by
 * step, each step an image in the store; RUN steps run as berth containers
 * made from the image so far and their overlay upper becomes the step's
 * layer, COPY and ADD stage what they copy from the context (`.dockerignore`
 * / `.containerignore` honoured) or another stage, and every other
 * instruction changes the config only. A step whose cache key an image
 * already has reuses that image. The parts (the Containerfile's parser, the
 * ignore matcher, the sources a COPY reads, RUN steps) are private.
 *
 * This module is the folder's only entry from outside it; the `_`-prefixed
 * modules beside it are private (tests/layers_test.ts checks it).
 *
 * @module
 */

export { buildImage, type BuildOptions } from "./_build.ts";
