import pytest

from mpcbench.errors import InputError
from mpcbench.launch.placement import check_remote, remote_command


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("ssh {host} 'cd mpcbench && python {worker}'",
         "ssh 'a b' 'cd mpcbench && python -m w'"),
        ('ssh $host "echo ${HOME} $$; ${worker}"', "ssh 'a b' \"echo ${HOME} $$; -m w\""),
        ("ssh ${host} {x} $hostname {{worker}} $worker", "ssh 'a b' {x} $hostname {-m w} -m w"),
        ("awk '{print $1}' {worker}", "awk '{print $1}' -m w"),
    ],
)
def test_only_the_two_placeholders_are_replaced(template, expected):
    assert remote_command(template, "a b", "-m w") == expected


def test_a_template_without_worker_is_refused():
    check_remote("ssh $host $worker")
    with pytest.raises(InputError, match=r"no \{worker\}"):
        check_remote("ssh {host} python -m mpcbench.parties.worker")
