/* Entry point of the remus-tune test guest: a multiboot (v1) header, a flat GDT of our own
 * (the multiboot spec leaves GDTR undefined), a stack, and the IRQ0 stub that only acknowledges
 * the PIT tick: the tick exists to wake the main loop from `hlt`, time is read from PIT
 * channel 2, so a lost tick never skews the write rate. */
.set MB_MAGIC, 0x1BADB002
.set MB_FLAGS, 0x00000003
.section .multiboot, "a"
.align 4
.long MB_MAGIC
.long MB_FLAGS
.long -(MB_MAGIC + MB_FLAGS)

.section .data
.align 8
gdt:
.quad 0
.quad 0x00CF9A000000FFFF /* 0x08: code, flat 4 GiB */
.quad 0x00CF92000000FFFF /* 0x10: data, flat 4 GiB */
gdt_end:
gdt_ptr:
.word gdt_end - gdt - 1
.long gdt

.section .bss
.align 16
stack_bottom:
.skip 16384
stack_top:

.section .text
.global _start
_start:
    cli
    lgdt gdt_ptr
    ljmp $0x08, $1f
1:
    mov $0x10, %cx
    mov %cx, %ds
    mov %cx, %es
    mov %cx, %ss
    mov %cx, %fs
    mov %cx, %gs
    mov $stack_top, %esp
    push %ebx
    push %eax
    call guest_main
2:
    cli
    hlt
    jmp 2b

.global irq0_stub
irq0_stub:
    push %eax
    mov $0x20, %al
    outb %al, $0x20
    pop %eax
    iret

.global spurious_stub
spurious_stub:
    iret
.section .note.GNU-stack,"",@progbits
