import { describe, expect, it } from 'vitest';
import { checkTerraformFormat } from './fmt-check.ts';

const good = `variable "x" {
  description = "a \${var.y} {[ string"
  type = list(object({
    a = string
  }))
  default = []
}

module "m" {
  source   = "../m"
  for_each = { for k, v in local.m : k => v if v != "" }

  inbound_rules = concat([local.a], [
    for p in local.ports : {
      name = p.name
      cidr = p.scope == "x" ? local.a : local.b
    }
  ])
}
`;

describe('terraform fmt approximation', () => {
  it('accepts formatted HCL (strings with braces, for expressions, nested brackets)', () => {
    expect(checkTerraformFormat(good)).toEqual([]);
  });

  it('finds misaligned "=" in a run of single-line attributes', () => {
    const bad = 'resource "a" "b" {\n  name = "x"\n  location = "y"\n}\n';
    expect(checkTerraformFormat(bad)).toEqual([{ line: 2, message: expect.stringContaining('belongs at column 12') }]);
  });

  it('finds wrong indentation, tabs, trailing spaces and missing final newline', () => {
    const problems = checkTerraformFormat('locals {\n    a = 1 \n\tb = 2\n}');
    const messages = problems.map((p) => `${p.line}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^2: indented 4 spaces, terraform fmt indents 2/),
        expect.stringMatching(/^2: trailing whitespace/),
        expect.stringMatching(/^3: tab character/),
        expect.stringMatching(/end with exactly one newline/),
      ]),
    );
  });

  it('finds extra spaces outside the alignment gap and after "="', () => {
    const messages = checkTerraformFormat('resource  "a" "b" {\n  name =  "x"\n}\n').map((p) => p.message);
    expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(/2 spaces between tokens/), 'exactly one space after "="']));
  });

  it('does not align a multi-line attribute with its single-line neighbours (hclwrite breaks the run)', () => {
    expect(checkTerraformFormat('locals {\n  a = 1\n  tags = {\n    b = 2\n  }\n}\n')).toEqual([]);
  });
});
