#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0-or-later
# sys-agent.pl CTL_SOCKET QGA_SOCKET: the host side of a full-system test
# (started by sys-lib.sh next to qemu). Perl because perl-base is on every
# Debian system; only core modules.
#
# CTL_SOCKET is a virtio-serial port the guest sees as
# /dev/virtio-ports/org.larder.ctl: the guest writes one request per line
# and gets one reply line:
#   qga JSON   -> send JSON to the guest's qemu-guest-agent (through its
#                 own virtio-serial channel org.qemu.guest_agent.0, the
#                 QGA_SOCKET here), after a guest-sync to skip stale
#                 replies; reply "ok REPLY-LINE" or "err WHY"
#   ping       -> "pong"
# Anything else gets "err unknown request". It exits when qemu closes the
# control socket.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM);

my ($ctlp, $qgap) = @ARGV;
die "usage: sys-agent.pl CTL_SOCKET QGA_SOCKET\n" unless defined $qgap;
$| = 1;

sub connect_to {
	my ($path) = @_;
	for (1 .. 600) {
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path);
		return $s if $s;
		select(undef, undef, undef, 0.1);
	}
	die "sys-agent: cannot connect to $path\n";
}

# read one line from $s into the caller's buffer, waiting at most $secs
# (undef: forever); undef on timeout or EOF
sub read_line {
	my ($s, $bufref, $secs) = @_;
	my $end = defined $secs ? time + $secs : undef;
	while ($$bufref !~ /\n/) {
		my $left = defined $end ? $end - time : undef;
		return undef if defined $left && $left <= 0;
		my $sel = IO::Select->new($s);
		return undef unless $sel->can_read($left);
		my $n = sysread($s, my $chunk, 4096);
		return undef unless $n;
		$$bufref .= $chunk;
	}
	$$bufref =~ s/^([^\n]*)\n//;
	my $l = $1;
	$l =~ s/[^\x20-\x7e]//g;	# the agent's 0xff delimiters, \r
	return $l;
}

my $ctl = connect_to($ctlp);
my $qga = connect_to($qgap);
my ($cbuf, $qbuf) = ('', '');

sub qga_call {
	my ($json) = @_;
	# a 0xff resets the agent's parser; then sync on a fresh id
	my $id = int(rand(1e9)) + 1;
	syswrite($qga, "\xff{\"execute\":\"guest-sync\",\"arguments\":{\"id\":$id}}\n");
	my $synced = 0;
	while (defined(my $l = read_line($qga, \$qbuf, 20))) {
		if ($l =~ /"return"\s*:\s*$id\b/) { $synced = 1; last; }
	}
	return "err no guest-sync reply from qemu-guest-agent in 20 s" unless $synced;
	syswrite($qga, "$json\n");
	my $r = read_line($qga, \$qbuf, 120);
	return "err no reply from qemu-guest-agent in 120 s" unless defined $r;
	return "ok $r";
}

while (defined(my $req = read_line($ctl, \$cbuf, undef))) {
	my $reply;
	if ($req =~ /^qga (\{.*\})\s*$/) {
		$reply = qga_call($1);
	} elsif ($req =~ /^ping\s*$/) {
		$reply = 'pong';
	} else {
		next if $req eq '';
		$reply = 'err unknown request';
	}
	print "agent: $req -> $reply\n";
	syswrite($ctl, "$reply\n");
}
