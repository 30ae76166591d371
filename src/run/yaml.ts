/**
 * YAML through one library on both runtimes (Bun has its own parser, Deno none), so a file
 * written on either is the same bytes. Only commands load it, never a role.
 */
import { parse, stringify } from "yaml";

export const parseYaml = (text: string): unknown => parse(text);
export const stringifyYaml = (value: unknown): string => stringify(value, { lineWidth: 0 });
