#!/usr/bin/env python3
"""Generates the Kafka message codecs from src/kafka/protocol/messages/*.json.

Each JSON file declares one API: its key, the versions we serve, the first
flexible version, and the request and response as lists of fields. A field:

  name       snake_case; the C++ member name
  type       int8 int16 int32 int64 uint16 float64 bool string bytes records
             uuid error (an int16 wire value held as error_code), "[]T" for an
             array of T (T a primitive or a struct), or a struct name; a struct
             (in an array or alone) lists its own "fields"
  versions   the versions the field exists in: "3+", "0-4", "none" (default "0+")
  nullable   the versions in which null is allowed (strings, bytes, arrays,
             structs: a struct is then preceded by an int8, -1 for null)
  tag        a tagged field (flexible versions only) with this tag number;
             "versions" then says in which versions the tag is understood
  default    the value when absent (numbers, booleans, strings, null)

Usage:
  generate.py --out DIR MESSAGES_DIR      writes kafka_messages.h/.cc and
                                          kafka_messages_test_fill.h into DIR
  generate.py --canon MESSAGES_DIR        prints every request and response
                                          layout per version, one line each, in
                                          the canonical form of
                                          tests/kafka/messages/kafka_4_1_1_layouts.txt
"""

import argparse
import json
import os
import re
import sys

PRIMITIVES = {
    "int8": ("int8_t", "0"),
    "int16": ("int16_t", "0"),
    "int32": ("int32_t", "0"),
    "int64": ("int64_t", "0"),
    "uint16": ("uint16_t", "0"),
    "float64": ("double", "0"),
    "bool": ("bool", "false"),
    "string": ("std::string", None),
    "bytes": ("std::string", None),
    "records": (None, None),
    "uuid": ("uuid", None),
    "error": ("::millrace::kafka::error_code", "::millrace::kafka::error_code::none"),
}
CPP_KEYWORDS = {"default", "class", "struct", "int", "long", "new", "delete", "operator", "template", "this"}


class spec_error(Exception):
    pass


class vrange:
    """A closed version range; lo > hi means empty."""

    def __init__(self, text, where):
        text = str(text).strip()
        if text == "none":
            self.lo, self.hi = 1, 0
        elif re.fullmatch(r"\d+\+", text):
            self.lo, self.hi = int(text[:-1]), 32767
        elif re.fullmatch(r"\d+-\d+", text):
            self.lo, self.hi = (int(x) for x in text.split("-"))
        elif re.fullmatch(r"\d+", text):
            self.lo = self.hi = int(text)
        else:
            raise spec_error(f"{where}: bad version range '{text}'")

    def contains(self, v):
        return self.lo <= v <= self.hi

    def empty(self):
        return self.lo > self.hi

    def cond(self, var, lo_bound, hi_bound):
        """A C++ condition on `var` for this range within [lo_bound, hi_bound]."""
        parts = []
        if self.empty():
            return "false"
        if self.lo > lo_bound:
            parts.append(f"{var} >= {self.lo}")
        if self.hi < hi_bound:
            parts.append(f"{var} <= {self.hi}")
        return " && ".join(parts) if parts else "true"


class field:
    def __init__(self, raw, where, direction, parent_versions):
        self.where = f"{where}.{raw.get('name', '?')}"
        known = {"name", "type", "versions", "nullable", "tag", "default", "fields", "about"}
        extra = set(raw) - known
        if extra:
            raise spec_error(f"{self.where}: unknown keys {sorted(extra)}")
        self.name = raw["name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name) or self.name in CPP_KEYWORDS:
            raise spec_error(f"{self.where}: field name must be snake_case and not a C++ keyword")
        self.type = raw["type"]
        self.versions = vrange(raw.get("versions", "0+"), self.where)
        self.nullable = vrange(raw.get("nullable", "none"), self.where)
        self.tag = raw.get("tag")
        self.default = raw.get("default")
        self.direction = direction
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.fields = None
        if self.elem not in PRIMITIVES:
            if "fields" not in raw:
                raise spec_error(f"{self.where}: struct type '{self.elem}' needs 'fields'")
            if not re.fullmatch(r"[a-z][a-z0-9_]*", self.elem):
                raise spec_error(f"{self.where}: struct name must be snake_case")
            self.fields = [field(f, self.where, direction, self.versions) for f in raw["fields"]]
            check_names(self.fields, self.where)
        elif "fields" in raw:
            raise spec_error(f"{self.where}: a {self.elem} has no fields")
        if not self.nullable.empty() and not (self.is_array or self.fields or self.elem in ("string", "bytes", "records")):
            raise spec_error(f"{self.where}: only strings, bytes, records, structs and arrays can be nullable")
        if self.default is not None and (self.is_array or self.fields):
            raise spec_error(f"{self.where}: arrays and structs take no default")

    @property
    def is_struct(self):
        return self.fields is not None

    @property
    def optional(self):
        return self.elem == "records" or not self.nullable.empty()

    def elem_cpp(self):
        if self.is_struct:
            return self.elem
        if self.elem == "records":
            return "std::string_view" if self.direction == "request" else "std::string"
        return PRIMITIVES[self.elem][0]

    def cpp_type(self):
        base = f"std::vector<{self.elem_cpp()}>" if self.is_array else self.elem_cpp()
        if self.optional:
            return f"std::optional<{base}>"
        return base

    def init(self):
        if self.is_array or self.is_struct:
            return ""
        if self.optional:
            if self.default is None:
                return ""
            return f"{{{cpp_literal(self.default, self.elem)}}}"
        if self.default is not None:
            return f"{{{cpp_literal(self.default, self.elem)}}}"
        d = PRIMITIVES[self.elem][1]
        return f"{{{d}}}" if d else ""


def cpp_literal(value, elem):
    if isinstance(value, bool):
        return "true" if value else "false"
    if elem == "error":
        return f"static_cast<::millrace::kafka::error_code>({int(value)})"
    if elem in ("string", "bytes"):
        return json.dumps(value)
    if elem == "int64":
        return f"INT64_C({value})"
    return str(value)


def check_names(fields, where):
    seen = set()
    tags = set()
    for f in fields:
        if f.name in seen:
            raise spec_error(f"{where}: field '{f.name}' declared twice")
        seen.add(f.name)
        if f.tag is not None:
            if f.tag in tags:
                raise spec_error(f"{where}: tag {f.tag} used twice")
            tags.add(f.tag)
    for f in fields:
        if f.is_struct and f.elem in seen:
            raise spec_error(f"{where}: struct name '{f.elem}' equals a field name")


class message:
    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
        self.path = path
        where = os.path.basename(path)
        self.api = raw["api"]
        self.key = int(raw["key"])
        self.snake = raw["snake"]
        self.versions = vrange(raw["versions"], where)
        self.flexible = vrange(raw.get("flexible", "none"), where)
        self.first_flexible = self.flexible.lo if not self.flexible.empty() else 32767
        self.request = [field(f, f"{where}:request", "request", self.versions) for f in raw["request"]]
        self.response = [field(f, f"{where}:response", "response", self.versions) for f in raw["response"]]
        check_names(self.request, where)
        check_names(self.response, where)


# ---------------------------------------------------------------- C++ output


class emitter:
    def __init__(self):
        self.lines = []

    def __call__(self, text="", indent=0):
        self.lines.append(("    " * indent + text) if text else "")

    def text(self):
        return "\n".join(self.lines) + "\n"


def vcond(f, m):
    return f.versions.cond("version", m.versions.lo, m.versions.hi)


def ncond(f, m):
    return f.nullable.cond("version", m.versions.lo, m.versions.hi)


def read_scalar(elem, direction):
    return {
        "int8": "in.int8()",
        "int16": "in.int16()",
        "int32": "in.int32()",
        "int64": "in.int64()",
        "uint16": "static_cast<uint16_t>(in.int16())",
        "float64": "in.float64()",
        "bool": "in.boolean()",
        "string": "in.string(flexible)",
        "bytes": "std::string(in.bytes(flexible))",
        "uuid": "in.read_uuid()",
        "error": "static_cast<::millrace::kafka::error_code>(in.int16())",
    }[elem]


def write_scalar(elem, expr):
    return {
        "int8": f"out.int8({expr});",
        "int16": f"out.int16({expr});",
        "int32": f"out.int32({expr});",
        "int64": f"out.int64({expr});",
        "uint16": f"out.int16(static_cast<int16_t>({expr}));",
        "float64": f"out.float64({expr});",
        "bool": f"out.boolean({expr});",
        "string": f"out.string({expr}, flexible);",
        "bytes": f"out.bytes({expr}, flexible);",
        "uuid": f"out.write_uuid({expr});",
        "error": f"out.int16(wire({expr}));",
    }[elem]


def emit_decode_field(e, f, m, ind, target):
    """Reads field f into `target` (a member expression)."""
    name = f.name
    if f.is_array:
        e(f"{{", ind)
        e(f"int32_t count = in.array_length(flexible);", ind + 1)
        e(f"if (count < 0) {{", ind + 1)
        if f.optional:
            e(f"if (!({ncond(f, m)})) throw protocol_error(\"{m.api}: null array '{name}' in version \" + std::to_string(version));", ind + 2)
            e(f"{target}.reset();", ind + 2)
        else:
            e(f"throw protocol_error(\"{m.api}: null array '{name}' in version \" + std::to_string(version));", ind + 2)
        e(f"}} else {{", ind + 1)
        vec = f"{target}"
        if f.optional:
            e(f"{target}.emplace();", ind + 2)
            vec = f"(*{target})"
        e(f"{vec}.resize(static_cast<size_t>(count));", ind + 2)
        e(f"for (auto& element : {vec}) {{", ind + 2)
        if f.is_struct:
            e(f"element.decode(in, version, flexible);", ind + 3)
        else:
            e(f"element = {read_scalar(f.elem, f.direction)};", ind + 3)
        e(f"}}", ind + 2)
        e(f"}}", ind + 1)
        e(f"}}", ind)
    elif f.is_struct and f.optional:
        if ncond(f, m) != "true":
            raise spec_error(f"{f.where}: a nullable struct must be nullable in every version it exists in")
        e(f"if (in.int8() < 0) {{", ind)
        e(f"{target}.reset();", ind + 1)
        e(f"}} else {{", ind)
        e(f"{target}.emplace().decode(in, version, flexible);", ind + 1)
        e(f"}}", ind)
    elif f.is_struct:
        e(f"{target}.decode(in, version, flexible);", ind)
    elif f.elem == "records":
        if f.direction == "request":
            e(f"{target} = in.nullable_bytes(flexible);", ind)
        else:
            e(f"if (auto raw = in.nullable_bytes(flexible)) {target} = std::string(*raw); else {target}.reset();", ind)
    elif f.elem in ("string", "bytes") and f.optional and ncond(f, m) == "true":
        if f.elem == "string":
            e(f"{target} = in.nullable_string(flexible);", ind)
        else:
            e(f"if (auto raw = in.nullable_bytes(flexible)) {target} = std::string(*raw); else {target}.reset();", ind)
    elif f.elem in ("string", "bytes") and f.optional:
        fn = "nullable_string" if f.elem == "string" else "nullable_bytes"
        e(f"if ({ncond(f, m)}) {{", ind)
        if f.elem == "string":
            e(f"{target} = in.nullable_string(flexible);", ind + 1)
        else:
            e(f"if (auto raw = in.nullable_bytes(flexible)) {target} = std::string(*raw); else {target}.reset();", ind + 1)
        e(f"}} else {{", ind)
        e(f"{target} = {read_scalar(f.elem, f.direction)};", ind + 1)
        e(f"}}", ind)
        del fn
    else:
        e(f"{target} = {read_scalar(f.elem, f.direction)};", ind)


def emit_encode_field(e, f, m, ind, src):
    name = f.name
    if f.is_array:
        vec = src
        if f.optional:
            e(f"if (!{src}) {{", ind)
            e(f"if (!({ncond(f, m)})) throw protocol_error(\"{m.api}: null array '{name}' in version \" + std::to_string(version));", ind + 1)
            e(f"out.array_length(-1, flexible);", ind + 1)
            e(f"}} else {{", ind)
            vec = f"(*{src})"
            ind += 1
        e(f"out.array_length(static_cast<int32_t>({vec}.size()), flexible);", ind)
        e(f"for (const auto& element : {vec}) {{", ind)
        if f.is_struct:
            e(f"element.encode(out, version, flexible);", ind + 1)
        else:
            e(write_scalar(f.elem, "element"), ind + 1)
        e(f"}}", ind)
        if f.optional:
            e(f"}}", ind - 1)
    elif f.is_struct and f.optional:
        e(f"if (!{src}) {{", ind)
        e(f"out.int8(-1);", ind + 1)
        e(f"}} else {{", ind)
        e(f"out.int8(1);", ind + 1)
        e(f"{src}->encode(out, version, flexible);", ind + 1)
        e(f"}}", ind)
    elif f.is_struct:
        e(f"{src}.encode(out, version, flexible);", ind)
    elif f.elem == "records":
        e(f"if ({src}) out.bytes(*{src}, flexible); else out.nullable_bytes(std::nullopt, flexible);", ind)
    elif f.elem in ("string", "bytes") and f.optional and ncond(f, m) == "true":
        if f.elem == "string":
            e(f"out.nullable_string({src}, flexible);", ind)
        else:
            e(f"if ({src}) out.bytes(*{src}, flexible); else out.nullable_bytes(std::nullopt, flexible);", ind)
    elif f.elem in ("string", "bytes") and f.optional:
        e(f"if ({ncond(f, m)}) {{", ind)
        if f.elem == "string":
            e(f"out.nullable_string({src}, flexible);", ind + 1)
        else:
            e(f"if ({src}) out.bytes(*{src}, flexible); else out.nullable_bytes(std::nullopt, flexible);", ind + 1)
        e(f"}} else {{", ind)
        e(f"if (!{src}) throw protocol_error(\"{m.api}: null '{name}' in version \" + std::to_string(version));", ind + 1)
        e(write_scalar(f.elem, f"*{src}"), ind + 1)
        e(f"}}", ind)
    else:
        e(write_scalar(f.elem, src), ind)


def is_default_expr(f, src):
    if f.is_array:
        return f"{src}.empty()" if not f.optional else f"!{src}"
    if f.is_struct and f.optional:
        return f"!{src}"
    if f.is_struct:
        return f"{src} == decltype({src}){{}}"
    if f.optional:
        return f"{src} == decltype({src}){{{cpp_literal(f.default, f.elem) if f.default is not None else ''}}}"
    init = f.init()
    if init:
        return f"{src} == {init[1:-1]}"
    return f"{src} == decltype({src}){{}}"


def emit_struct_body(e, name, fields, m, ind, top):
    """Declares struct `name` with its nested structs, members and codec."""
    e(f"struct {name} {{", ind)
    if top:
        e(f"static constexpr api_key k_api = api_key::{m.snake};", ind + 1)
        e(f"static constexpr int16_t k_min_version = {m.versions.lo};", ind + 1)
        e(f"static constexpr int16_t k_max_version = {m.versions.hi};", ind + 1)
        e(f"static constexpr int16_t k_first_flexible = {m.first_flexible};", ind + 1)
        e("", 0)
    declared = set()
    for f in fields:
        if f.is_struct and f.elem not in declared:
            declared.add(f.elem)
            emit_struct_body(e, f.elem, f.fields, m, ind + 1, False)
            e("", 0)
    for f in fields:
        vs = "" if (f.versions.lo <= m.versions.lo and f.versions.hi >= m.versions.hi) else f"  // v{f.versions.lo}{'+' if f.versions.hi >= 32767 else '-' + str(f.versions.hi)}"
        if f.tag is not None:
            vs += f" tag {f.tag}"
        e(f"{f.cpp_type()} {f.name}{f.init()};{vs}", ind + 1)
    e("", 0)
    for f in fields:
        if not (f.versions.lo <= m.versions.lo and f.versions.hi >= m.versions.hi):
            e(f"static constexpr bool has_{f.name}(int16_t version) {{ return {f.versions.cond('version', -1, 32767)}; }}", ind + 1)
    for f in fields:
        if not f.nullable.empty() and not (f.nullable.lo <= f.versions.lo and f.nullable.hi >= min(f.versions.hi, m.versions.hi)):
            e(f"static constexpr bool nullable_{f.name}(int16_t version) {{ return {f.nullable.cond('version', -1, 32767)}; }}", ind + 1)
    if top:
        e("// Reads the body of this version; throws protocol_error on malformed input.", ind + 1)
        e("void decode(reader& in, int16_t version);", ind + 1)
        e("// Appends the body of this version.", ind + 1)
        e("void encode(writer& out, int16_t version) const;", ind + 1)
    e("void decode(reader& in, int16_t version, bool flexible);", ind + 1)
    e("void encode(writer& out, int16_t version, bool flexible) const;", ind + 1)
    e(f"bool operator==(const {name}&) const = default;", ind + 1)
    e("};", ind)


def emit_struct_codec(e, qual, fields, m, top):
    for f in fields:
        if f.is_struct:
            # Nested struct types are emitted once per (qualified) name.
            pass
    nested_done = set()
    for f in fields:
        if f.is_struct and f.elem not in nested_done:
            nested_done.add(f.elem)
            emit_struct_codec(e, f"{qual}::{f.elem}", f.fields, m, False)
    regular = [f for f in fields if f.tag is None]
    tagged = [f for f in fields if f.tag is not None]
    if top:
        e(f"void {qual}::decode(reader& in, int16_t version) {{ decode(in, version, version >= k_first_flexible); }}")
        e(f"void {qual}::encode(writer& out, int16_t version) const {{ encode(out, version, version >= k_first_flexible); }}")
        e()
    e(f"void {qual}::decode(reader& in, int16_t version, bool flexible) {{")
    e("(void)version;", 1)
    for f in regular:
        c = vcond(f, m)
        if c == "false":
            continue
        if c == "true":
            emit_decode_field(e, f, m, 1, f.name)
        else:
            e(f"if ({c}) {{", 1)
            emit_decode_field(e, f, m, 2, f.name)
            e("}", 1)
    e("if (!flexible) return;", 1)
    e("uint32_t tag_count = in.uvarint();", 1)
    e("for (uint32_t tag_idx = 0; tag_idx < tag_count; ++tag_idx) {", 1)
    e("uint32_t tag = in.uvarint();", 2)
    e("std::string_view tag_data = in.take(in.uvarint());", 2)
    if tagged:
        e("reader tag_in(tag_data);", 2)
        e("switch (tag) {", 2)
        for f in tagged:
            e(f"case {f.tag}:", 3)
            e(f"if ({vcond(f, m)}) {{", 4)
            emit_decode_field(e, f, m, 5, f.name)
            e("}", 4)
            e("break;", 4)
        e("default: break;  // unknown tags are skipped", 3)
        e("}", 2)
        # the decoder of a tagged field reads from tag_in: rename below
    else:
        e("(void)tag;", 2)
        e("(void)tag_data;", 2)
    e("}", 1)
    e("}")
    e()
    e(f"void {qual}::encode(writer& out, int16_t version, bool flexible) const {{")
    e("(void)version;", 1)
    for f in regular:
        c = vcond(f, m)
        if c == "false":
            continue
        if c == "true":
            emit_encode_field(e, f, m, 1, f.name)
        else:
            e(f"if ({c}) {{", 1)
            emit_encode_field(e, f, m, 2, f.name)
            e("}", 1)
    e("if (!flexible) return;", 1)
    if not tagged:
        e("out.uvarint(0);", 1)
    else:
        e("uint32_t tag_count = 0;", 1)
        for f in tagged:
            e(f"if (({vcond(f, m)}) && !({is_default_expr(f, f.name)})) ++tag_count;", 1)
        e("out.uvarint(tag_count);", 1)
        for f in sorted(tagged, key=lambda f: f.tag):
            e(f"if (({vcond(f, m)}) && !({is_default_expr(f, f.name)})) {{", 1)
            e("std::string tag_buffer;", 2)
            e("writer tag_out(tag_buffer);", 2)
            sub = emitter()
            emit_encode_field(sub, f, m, 2, f.name)
            for line in sub.lines:
                e(re.sub(r"\bout\.", "tag_out.", line).replace("encode(out, ", "encode(tag_out, "))
            e(f"out.uvarint({f.tag});", 2)
            e("out.uvarint(static_cast<uint32_t>(tag_buffer.size()));", 2)
            e("out.raw(tag_buffer);", 2)
            e("}", 1)
    e("}")
    e()


def fix_tag_reads(lines):
    """Within tag cases, decoders read from tag_in instead of in."""
    out = []
    in_switch = False
    for line in lines:
        if "switch (tag) {" in line:
            in_switch = True
        elif in_switch and line.strip().startswith("default: break;"):
            in_switch = False
        if in_switch:
            line = re.sub(r"\bin\.", "tag_in.", line)
            line = line.replace("decode(in, ", "decode(tag_in, ")
        out.append(line)
    return out


def emit_fill(e, qual, fields, m, top, direction):
    nested_done = set()
    for f in fields:
        if f.is_struct and f.elem not in nested_done:
            nested_done.add(f.elem)
            emit_fill(e, f"{qual}::{f.elem}", f.fields, m, False, direction)
    e(f"inline void fill(messages::{qual}& value, int16_t version, int32_t& seed) {{")
    e("(void)version;", 1)
    e("(void)seed;", 1)
    for f in fields:
        c = vcond(f, m)
        if c == "false":
            continue
        e(f"if ({c}) {{", 1)
        tgt = f"value.{f.name}"

        def one(expr_target, ind):
            if f.is_struct:
                e(f"fill({expr_target}, version, seed);", ind)
            else:
                e(f"{expr_target} = {fill_scalar(f)};", ind)

        if f.is_array:
            if f.optional:
                e(f"{tgt}.emplace();", 2)
                tgt = f"(*{tgt})"
            e(f"{tgt}.resize(2);", 2)
            e(f"for (auto& element : {tgt}) {{", 2)
            one("element", 3)
            e("}", 2)
        elif f.is_struct and f.optional:
            one(f"{tgt}.emplace()", 2)
        else:
            one(tgt, 2)
        e("}", 1)
    e("}")
    e()


def fill_scalar(f):
    el = f.elem
    if el in ("int8", "int16", "int32", "int64", "uint16"):
        cpp = PRIMITIVES[el][0]
        return f"static_cast<{cpp}>(++seed)"
    if el == "float64":
        return "static_cast<double>(++seed) + 0.5"
    if el == "bool":
        return "!" + (f.init()[1:-1] if f.init() else "false")
    if el in ("string", "bytes"):
        return 'std::string("v") + std::to_string(++seed)'
    if el == "records":
        if f.direction == "request":
            return 'std::string_view("records-payload")'
        return 'std::string("records-") + std::to_string(++seed)'
    if el == "uuid":
        return "test_uuid(++seed)"
    if el == "error":
        return "static_cast<::millrace::kafka::error_code>(++seed)"
    raise AssertionError(el)


def generate(messages, out_dir):
    h = emitter()
    h("// Generated by src/kafka/protocol/generate.py from src/kafka/protocol/messages/*.json.")
    h("// Do not edit: change the JSON descriptions instead.")
    h("//")
    h("// One struct per request and response: members are the union of the fields")
    h("// of every version we serve; decode()/encode() read and write the body of one")
    h("// version (the connection loop handles the headers). Fields absent in a")
    h("// version keep their defaults; unknown tagged fields are skipped. Pure value")
    h("// types: no state, any thread.")
    h("#pragma once")
    h()
    h("#include <cstdint>")
    h("#include <optional>")
    h("#include <string>")
    h("#include <string_view>")
    h("#include <vector>")
    h()
    h('#include "protocol/api.h"')
    h('#include "protocol/errors.h"')
    h('#include "protocol/wire.h"')
    h()
    h("namespace millrace::kafka::messages {")
    h()
    for m in messages:
        h(f"// {m.api} (key {m.key}), versions {m.versions.lo}-{m.versions.hi}, flexible from {m.first_flexible if m.first_flexible < 32767 else 'never'}.")
        emit_struct_body(h, f"{m.snake}_request", m.request, m, 0, True)
        h()
        emit_struct_body(h, f"{m.snake}_response", m.response, m, 0, True)
        h()
    h("// Decodes a request body of any API and version we serve, with no broker")
    h("// state (the fuzzing entry point). Returns false for an API or version we do")
    h("// not serve; throws protocol_error when the bytes are malformed, or when they")
    h("// are not consumed exactly.")
    h("bool decode_any_request(int16_t api_key, int16_t version, std::string_view body);")
    h("// Decodes like decode_any_request, then encodes what it read and decodes that")
    h("// again: false when the second decoding differs from the first (a codec bug).")
    h("// Throws protocol_error for malformed bytes and for an API or version we do not serve.")
    h("bool round_trip_any_request(int16_t api_key, int16_t version, std::string_view body);")
    h()
    h("}  // namespace millrace::kafka::messages")

    c = emitter()
    c("// Generated by src/kafka/protocol/generate.py; do not edit.")
    c('#include "kafka_messages.h"')
    c()
    c("namespace millrace::kafka::messages {")
    c()
    for m in messages:
        emit_struct_codec(c, f"{m.snake}_request", m.request, m, True)
        emit_struct_codec(c, f"{m.snake}_response", m.response, m, True)
    c("namespace {")
    c("template <typename T>")
    c("bool decode_exactly(int16_t version, std::string_view body) {")
    c("if (version < T::k_min_version || version > T::k_max_version) return false;", 1)
    c("reader in(body);", 1)
    c("T value;", 1)
    c("value.decode(in, version);", 1)
    c('if (in.remaining() != 0) throw protocol_error("request body has " + std::to_string(in.remaining()) + " bytes after the last field");', 1)
    c("return true;", 1)
    c("}")
    c("template <typename T>")
    c("bool round_trip(int16_t version, std::string_view body) {")
    c('if (version < T::k_min_version || version > T::k_max_version) throw protocol_error("version " + std::to_string(version) + " is not served");', 1)
    c("reader in(body);", 1)
    c("T first;", 1)
    c("first.decode(in, version);", 1)
    c("std::string again;", 1)
    c("writer out(again);", 1)
    c("first.encode(out, version);", 1)
    c("reader in2(again);", 1)
    c("T second;", 1)
    c("second.decode(in2, version);", 1)
    c("return in2.remaining() == 0 && first == second;", 1)
    c("}")
    c("}  // namespace")
    c()
    c("bool round_trip_any_request(int16_t api_key, int16_t version, std::string_view body) {")
    c("switch (api_key) {", 1)
    for m in messages:
        c(f"case {m.key}: return round_trip<{m.snake}_request>(version, body);", 2)
    c('default: throw protocol_error("api key " + std::to_string(api_key) + " is not served");', 2)
    c("}", 1)
    c("}")
    c()
    c("bool decode_any_request(int16_t api_key, int16_t version, std::string_view body) {")
    c("switch (api_key) {", 1)
    for m in messages:
        c(f"case {m.key}: return decode_exactly<{m.snake}_request>(version, body);", 2)
    c("default: return false;", 2)
    c("}", 1)
    c("}")
    c()
    c("}  // namespace millrace::kafka::messages")
    clines = fix_tag_reads(c.lines)

    t = emitter()
    t("// Generated by src/kafka/protocol/generate.py; do not edit. For tests: fills")
    t("// every field present in a version with a distinct non-default value, and")
    t("// lists every (API, version) so that tests can walk them all.")
    t("#pragma once")
    t()
    t("#include <functional>")
    t('#include "kafka_messages.h"')
    t()
    t("namespace millrace::kafka::messages::test {")
    t()
    t("inline uuid test_uuid(int32_t seed) {")
    t("uuid out{};", 1)
    t("for (size_t idx = 0; idx < out.size(); ++idx) out[idx] = static_cast<uint8_t>(seed + static_cast<int32_t>(idx));", 1)
    t("return out;", 1)
    t("}")
    t()
    for m in messages:
        emit_fill(t, f"{m.snake}_request", m.request, m, True, "request")
        emit_fill(t, f"{m.snake}_response", m.response, m, True, "response")
    t("// Calls fn.template operator()<Request, Response>() for every API.")
    t("template <typename Fn>")
    t("void for_each_api(Fn&& fn) {")
    for m in messages:
        t(f"fn.template operator()<{m.snake}_request, {m.snake}_response>();", 1)
    t("}")
    t()
    t("}  // namespace millrace::kafka::messages::test")

    os.makedirs(out_dir, exist_ok=True)
    write_if_changed(os.path.join(out_dir, "kafka_messages.h"), h.text())
    write_if_changed(os.path.join(out_dir, "kafka_messages.cc"), "\n".join(clines) + "\n")
    write_if_changed(os.path.join(out_dir, "kafka_messages_test_fill.h"), t.text())
    api = emitter()
    api("// Generated by src/kafka/protocol/generate.py; do not edit. Included by protocol/api.h and api.cc.")
    api("#ifdef MILLRACE_KAFKA_API_KEYS")
    for m in messages:
        api(f"{m.snake} = {m.key},", 1)
    api("#endif")
    api("#ifdef MILLRACE_KAFKA_API_TABLE")
    for m in messages:
        api(f'{{api_key::{m.snake}, "{m.api}", {m.versions.lo}, {m.versions.hi}, {m.first_flexible if m.first_flexible < 32767 else "INT16_MAX"}}},', 1)
    api("#endif")
    write_if_changed(os.path.join(out_dir, "kafka_api_table.inc"), api.text())


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


# ------------------------------------------------------- canonical layouts


def canon_type(f, v, flex):
    c = "COMPACT_" if flex else ""
    nullable = f.nullable.contains(v)
    if f.is_array:
        if f.is_struct:
            inner = canon_struct(f.fields, v, flex)
        else:
            inner = canon_scalar(f.elem, False, flex)
        return ("CARRAY" if flex else "ARRAY") + ("?" if nullable else "") + f"({inner})"
    if f.is_struct:
        return canon_struct(f.fields, v, flex)  # Kafka's dump does not mark nullable structs
    return canon_scalar(f.elem, nullable, flex)


def canon_scalar(elem, nullable, flex):
    c = "COMPACT_" if flex else ""
    n = "NULLABLE_" if nullable else ""
    return {
        "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "uint16": "UINT16",
        "float64": "FLOAT64", "bool": "BOOLEAN", "uuid": "UUID", "error": "INT16",
        "string": f"{c}{n}STRING", "bytes": f"{c}{n}BYTES", "records": f"{c}RECORDS",
    }[elem]


def canon_struct(fields, v, flex):
    parts = []
    for f in fields:
        if f.tag is None and f.versions.contains(v):
            parts.append(f"{f.name}:{canon_type(f, v, flex)},")
    if flex:
        tags = "".join(f"{f.tag}={f.name}:{canon_type(f, v, flex)};"
                       for f in sorted(fields, key=lambda f: f.tag if f.tag is not None else -1)
                       if f.tag is not None and f.versions.contains(v))
        parts.append(f"_tagged_fields:TAGS[{tags}],")
    return "{" + "".join(parts) + "}"


def canon(messages):
    for m in messages:
        for v in range(m.versions.lo, m.versions.hi + 1):
            flex = m.flexible.contains(v)
            print(f"{m.key} req {v} {canon_struct(m.request, v, flex)}")
        for v in range(m.versions.lo, m.versions.hi + 1):
            flex = m.flexible.contains(v)
            print(f"{m.key} rsp {v} {canon_struct(m.response, v, flex)}")


def load(messages_dir):
    out = []
    for name in sorted(os.listdir(messages_dir)):
        if name.endswith(".json"):
            out.append(message(os.path.join(messages_dir, name)))
    out.sort(key=lambda m: m.key)
    keys = [m.key for m in out]
    if len(set(keys)) != len(keys):
        raise spec_error("two message files declare the same api key")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("messages_dir")
    ap.add_argument("--out")
    ap.add_argument("--canon", action="store_true")
    args = ap.parse_args()
    try:
        messages = load(args.messages_dir)
    except (spec_error, KeyError, json.JSONDecodeError) as err:
        print(f"generate.py: {err}", file=sys.stderr)
        return 1
    if args.canon:
        canon(messages)
    if args.out:
        generate(messages, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
