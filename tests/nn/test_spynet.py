import pytest
import torch

from vsr.nn import BasicVSRPlusPlus, SPyNet


def spynet_weights(parity) -> dict:
    sd = parity["checkpoint"]["state_dict"]
    prefix = "generator.spynet."
    return {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}


def as_basicsr(weights: dict) -> dict:
    out = {}
    for key, value in weights.items():
        parts = key.split(".")
        if parts[0] == "basic_module" and parts[4] == "conv":
            # mmagic basic_module.L.basic_module.i.conv.w → BasicSR basic_module.L.basic_module.2i.w
            key = ".".join([*parts[:3], str(2 * int(parts[3])), parts[5]])
        out[key] = value
    return out


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (33, 70), (64, 64)])
def test_flow_has_the_input_size(size):
    net = SPyNet().eval()
    a, b = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
    with torch.no_grad():
        flow = net(a, b)
    assert flow.shape == (2, 2, *size)
    assert torch.isfinite(flow).all()


def test_loads_an_mmagic_spynet_file(parity, tmp_path):
    weights = spynet_weights(parity)
    mmagic_file = {k: v for k, v in weights.items() if k not in ("mean", "std")}
    torch.save(mmagic_file, tmp_path / "spynet.pth")
    net = SPyNet(pretrained=str(tmp_path / "spynet.pth"))
    for key, value in weights.items():
        torch.testing.assert_close(net.state_dict()[key], value, atol=0, rtol=0)


def test_loads_a_basicsr_spynet_file_into_the_network(parity, tmp_path):
    weights = spynet_weights(parity)
    torch.save({"params": as_basicsr(weights)}, tmp_path / "spynet_sintel_final.pth")
    model = BasicVSRPlusPlus(8, 1, spynet_pretrained=str(tmp_path / "spynet_sintel_final.pth"))
    for key, value in weights.items():
        torch.testing.assert_close(model.spynet.state_dict()[key], value, atol=0, rtol=0)


def test_a_wrong_spynet_file_names_the_problem(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"other\.pth.*Missing keys: basic_module"):
        SPyNet(pretrained=str(tmp_path / "other.pth"))


def test_untrained_spynet_predicts_zero_flow():
    net = SPyNet()
    with torch.no_grad():
        flow = net(torch.rand(1, 3, 20, 24), torch.rand(1, 3, 20, 24))
    assert flow.abs().max() == 0
