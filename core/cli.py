"""The ``jijiao`` command line. Errors a person can fix are printed as one Chinese line on
stderr with exit code 2; never a traceback."""

from __future__ import annotations

import argparse
import json
import sys

from .cases import case_files, compare, format_result, load_cases, run_case
from .errors import InputError, JijiaoError

EXIT_INPUT = 2


def _registry():
    from .plugins import load_registry
    return load_registry()


def cmd_assess(args) -> int:
    registry = _registry()
    results = []
    for path in case_files([args.file]):
        for case in load_cases(path):
            result = run_case(registry, case)
            results.append((case, result))
    if args.json:
        payload = []
        for case, result in results:
            item = {"name": case.name}
            item.update(result.to_dict(explain=args.explain))
            payload.append(item)
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(format_result(result, case.name) for case, result in results))
    return 0


def cmd_cases(args) -> int:
    registry = _registry()
    paths = args.paths
    only = set(args.jurisdiction or ())
    for code in only:
        registry.bundle(code)  # an unknown code is an input error
    if not paths:
        paths = [source.path for code in registry.codes() if not only or code in only
                 for source in registry.bundle(code).case_sources]
    passed = failed = 0
    for path in case_files(paths):
        for case in load_cases(path):
            if only and case.jurisdiction not in only:
                continue
            if case.expect is None:
                print(f"✗ {case.name}（{case.location}）：缺少 expect")
                failed += 1
                continue
            try:
                result = run_case(registry, case)
            except InputError as exc:
                print(f"✗ {case.name}（{case.location}）\n    {exc}")
                failed += 1
                continue
            diffs = compare(case.expect, result)
            if diffs:
                failed += 1
                print(f"✗ {case.name}（{case.location}）")
                for line in diffs:
                    print(f"    {line}")
                if args.verbose:
                    print(format_result(result))
            else:
                passed += 1
                if args.verbose:
                    print(f"✓ {case.name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_plugins_list(args) -> int:
    registry = _registry()
    rows = []
    for info in registry.plugins():
        source = f"{info.distribution} {info.version}" if info.distribution else "（直接注册）"
        rows.append((info.name, source, f"地区：{'、'.join(info.jurisdictions) or '—'}"))
    rows += [(failure.plugin, "", f"加载失败：{failure.reason}") for failure in registry.failures]
    # Columns as wide as their longest cell (a long distribution name must not shift the next column).
    name_width = max([_width(r[0]) for r in rows] + [1])
    source_width = max([_width(r[1]) for r in rows] + [1])
    for name, source, rest in rows:
        print(f"{_pad(name, name_width)}  {_pad(source, source_width)}  {rest}".rstrip())
    return 0


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def cmd_plugins_show(args) -> int:
    registry = _registry()
    bundle = registry.bundle(args.code)
    j = bundle.jurisdiction
    print(f"{j.name}（{j.code}），插件 {registry.owner[j.code]}，挂接层级 {j.level}")
    if j.description:
        print(f"  {j.description}")
    period = "个人五年周期" if j.period.kind == "personal_cycle" else f"年度（自 {j.period.starts} 起）"
    print(f"考核期间：{period}" + (f"；周期 {j.cycle.periods} 期" if j.cycle else ""))
    print(f"度量：{'、'.join(j.measures)}；流程：{j.workflow}")
    print("来源：")
    for ref in j.references:
        print(f"  [{ref.key}] {ref.title}" + (f"（{ref.document}）" if ref.document else "")
              + (f" {ref.issued_on}" if ref.issued_on else ""))
    print("类别与项目：")
    for cat in j.categories:
        print(f"  {cat.code} {cat.name}")
        for item in bundle.items.values():
            if item.category == cat.code:
                inputs = "、".join(i.name for i in item.inputs)
                print(f"    {item.code:<26} {item.name}（{item.channel}；{item.rules['compute']['kind']}"
                      + (f"；输入 {inputs}" if inputs else "") + "）")
    print("参数：")
    for p in bundle.parameters.values():
        assumed = " [假定值，平台管理员可修改]" if p.assumed else ""
        print(f"  {p.name}：{p.description}{assumed}" + (f"  来源：{p.reference}" if p.reference else ""))
        for dv in p.values:
            print(f"      自 {dv.start}：{json.dumps(dv.value, ensure_ascii=False)}")
    print("对通知的理解（可两读之处）：" if j.readings else "对通知的理解：未列出可两读之处")
    for number, reading in enumerate(j.readings, 1):
        print(f"  {number}. {reading.topic}")
        print(f"     通知：{reading.notice}")
        print(f"     采用：{reading.reading}")
        print(f"     理由：{reading.reason}")
        if reading.parameter:
            values = "；".join(f"自 {dv.start}：{json.dumps(dv.value, ensure_ascii=False)}"
                              for dv in bundle.parameters[reading.parameter].values)
            print(f"     参数：{reading.parameter}（{values}）")
    if bundle.review_levels:
        print("审核层级：")
        for level in bundle.review_levels:
            print(f"  {level.order + 1}. {level.name}（{'/'.join(level.node_kinds)}）" + ("，可跳过" if level.optional else "")
                  + (f"；无时限：{level.no_deadline}" if level.no_deadline else ""))
    if bundle.stage_windows:
        print("阶段时间：")
        for stage in bundle.stage_windows:
            print(f"  {stage.stage}：{stage.name}")
            for dv in stage.values:
                print(f"      自 {dv.start}：{_day(dv.value.get('opens', '期间开始'))} 至 {_day(dv.value['closes'])}（含）")
    return 0


def _day(spec) -> str:
    """A window day as people read it: "next 01-31" → 次年01-31."""
    text = str(spec)
    return "次年" + text[5:] if text.startswith("next ") else text


def cmd_plugins_check(args) -> int:
    registry = _registry()
    problems = registry.check()
    if args.names:
        known = {info.name for info in registry.plugins()} | {p.plugin for p in problems}
        for name in args.names:
            if name not in known:
                raise InputError(f"未安装插件「{name}」（已安装：{'、'.join(sorted(known))}）")
        problems = [p for p in problems if p.plugin in args.names]
    for code in registry.codes():
        if args.names and registry.owner[code] not in args.names:
            continue
        if not any(p.plugin == registry.owner[code] for p in problems):
            bundle = registry.bundle(code)
            earliest = registry.assessor(code).earliest_day()
            since = f"；{earliest} 之前的期间按最早的参数值计算（结果中注明）" if earliest else ""
            print(f"✓ {code}（{registry.owner[code]}）：{len(bundle.items)} 个项目，{len(bundle.parameters)} 个参数{since}")
    for problem in problems:
        print(f"✗ {problem.plugin}：{problem.reason}")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jijiao", description="继教：中小学教师继续教育学时登记与考核平台")
    sub = parser.add_subparsers(dest="command", metavar="命令")
    p = sub.add_parser("assess", help="按案例文件计算考核结果（不看 expect）")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="输出 JSON（SPEC §5）")
    p.add_argument("--no-explain", dest="explain", action="store_false", help="JSON 中不含逐条说明")
    p.set_defaults(func=cmd_assess)
    p = sub.add_parser("cases", help="运行规则案例并与 expect 比较")
    p.add_argument("paths", nargs="*", help="案例文件或目录；缺省为所有已安装插件的案例")
    p.add_argument("-j", "--jurisdiction", action="append", metavar="CODE", help="只运行该地区的案例（可重复）")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_cases)
    plugins = sub.add_parser("plugins", help="地区插件")
    psub = plugins.add_subparsers(dest="plugins_command", metavar="子命令")
    psub.add_parser("list", help="列出已安装的插件").set_defaults(func=cmd_plugins_list)
    p = psub.add_parser("show", help="显示一个地区的项目、参数和阶段")
    p.add_argument("code")
    p.set_defaults(func=cmd_plugins_show)
    p = psub.add_parser("check", help="校验已安装的插件（缺省为全部）")
    p.add_argument("names", nargs="*", help="只校验这些插件")
    p.set_defaults(func=cmd_plugins_check)
    plugins.set_defaults(func=lambda args: (plugins.print_help(), 2)[1])
    for extend in _extensions():
        extend(sub)
    return parser


def _extensions():
    """Sub-commands of the later layers (database, demo, worker, audit)."""
    from .cli_db import extend
    from .documents.cli import extend as documents
    return [extend, documents]


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INPUT
    try:
        return args.func(args)
    except JijiaoError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jijiao assess … | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
