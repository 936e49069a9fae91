"""scripts/fix_tensorrt_stubs.py turns tensorrt-stubs' invalid def lines into valid, still-typed Python."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "scripts"
if str(SCRIPTS_DIR) not in sys.path:
    sys.path.insert(0, str(SCRIPTS_DIR))

import fix_tensorrt_stubs as fix  # noqa: E402

# the two kinds of line tensorrt-stubs 10.8-10.13 ship (copied from tensorrt_bindings/tensorrt.pyi), with CRLF
BROKEN = (
    "class IPluginV3:\r\n"
    "    def on_shape_change(self: IPluginV3, in: list[PluginTensorDesc], out: list[PluginTensorDesc]) -> None:\r\n"
    "        ...\r\n"
    "class INetworkDefinition:\r\n"
    "    def add_scale_nd(self, input: ITensor, mode: ScaleMode, shift: Weights = None, scale: Weights = None, "
    "power: Weights = None, channel_axis: int) -> IScaleLayer:\r\n"
    "        ...\r\n"
    "    def get_input(self, index: int) -> ITensor:\r\n"
    "        ...\r\n"
    "bool: DataType  # value = <DataType.BOOL: 4>\r\n"
)


def test_the_broken_lines_do_not_parse_before() -> None:
    try:
        ast.parse(BROKEN)
    except SyntaxError:
        return
    raise AssertionError("the sample no longer shows the stubs' syntax errors")


def test_fixed_stub_parses_keeps_types_and_line_ends() -> None:
    fixed = fix.fix_stub(BROKEN, bindings=True)
    tree = ast.parse(fixed)
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    shape_change = functions["on_shape_change"].args
    assert [a.arg for a in shape_change.args] == ["self", "in_", "out"]
    scale = functions["add_scale_nd"].args
    assert [a.arg for a in scale.kwonlyargs] == ["channel_axis"]
    assert ast.unparse(scale.kwonlyargs[0].annotation) == "int"
    assert len(scale.defaults) == 3
    assert "def get_input(self, index: int) -> ITensor:\r\n" in fixed  # valid lines are left alone
    assert "bool: DataType" not in fixed and fixed.count("\r\n") == BROKEN.count("\r\n") - 1


def test_main_refuses_a_folder_without_stubs(tmp_path: Path, capsys) -> None:
    assert fix.main([str(tmp_path)]) == 1
    assert "install tensorrt-stubs there first" in capsys.readouterr().err
