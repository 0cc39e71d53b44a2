#include "textflag.h"

// ROW adds a's value at addr times B's 16 values (Y12, Y13) to one row's
// two accumulators, through the broadcast register tmp.
#define ROW(addr, tmp, acc0, acc1) \
	VBROADCASTSS addr, tmp \
	VFMADD231PS Y12, tmp, acc0 \
	VFMADD231PS Y13, tmp, acc1

// STORE moves DX to C's next row and writes one row's accumulators there.
#define STORE(acc0, acc1) \
	ADDQ R9, DX \
	VMOVUPS acc0, (DX) \
	VMOVUPS acc1, 32(DX)

// func kernelFMA(k int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int)
// Y0..Y11 accumulate rows 0..5 (two registers of 8 columns each), Y12/Y13
// hold the step's 16 values of B, Y14/Y15 a broadcast value of A.
TEXT ·kernelFMA(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ ars+16(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11 // 3 rows
	LEAQ (R10)(R10*4), R12 // 5 rows
	MOVQ acs+24(FP), R13
	SHLQ $2, R13
	MOVQ b+32(FP), DI
	MOVQ ldb+40(FP), R8
	SHLQ $2, R8
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R9
	SHLQ $2, R9

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JEQ store

loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	ROW((SI), Y14, Y0, Y1)
	ROW((SI)(R10*1), Y15, Y2, Y3)
	ROW((SI)(R10*2), Y14, Y4, Y5)
	ROW((SI)(R11*1), Y15, Y6, Y7)
	ROW((SI)(R10*4), Y14, Y8, Y9)
	ROW((SI)(R12*1), Y15, Y10, Y11)
	ADDQ R13, SI
	ADDQ R8, DI
	DECQ CX
	JNE loop

store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET

// func adamAVX(n int, k *adamStep, w, grad, mean, sq *float32)
// Y0..Y8 hold b1, 1-b1, b2, 1-b2, c1, c2, lr, eps, decay; every operation is
// adamGo's, in its order.
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ k+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ grad+24(FP), SI
	MOVQ mean+32(FP), DX
	MOVQ sq+40(FP), BX
	VBROADCASTSS 0(AX), Y0
	VBROADCASTSS 4(AX), Y1
	VBROADCASTSS 8(AX), Y2
	VBROADCASTSS 12(AX), Y3
	VBROADCASTSS 16(AX), Y4
	VBROADCASTSS 20(AX), Y5
	VBROADCASTSS 24(AX), Y6
	VBROADCASTSS 28(AX), Y7
	VBROADCASTSS 32(AX), Y8
	SHRQ $3, CX
	JEQ adamdone

adamloop:
	VMOVUPS (SI), Y9         // g
	VMULPS (DX), Y0, Y10     // b1*m
	VMULPS Y9, Y1, Y11       // (1-b1)*g
	VADDPS Y11, Y10, Y10     // m
	VMOVUPS Y10, (DX)
	VMULPS Y9, Y3, Y11       // (1-b2)*g
	VMULPS Y9, Y11, Y11      // (1-b2)*g*g
	VMULPS (BX), Y2, Y12     // b2*v
	VADDPS Y11, Y12, Y12     // v
	VMOVUPS Y12, (BX)
	VMULPS Y10, Y4, Y10      // m*c1
	VMULPS Y10, Y6, Y10      // lr*(m*c1)
	VMULPS Y12, Y5, Y12      // v*c2
	VSQRTPS Y12, Y12
	VADDPS Y7, Y12, Y12      // sqrt(v*c2)+eps
	VDIVPS Y12, Y10, Y10     // step
	VMOVUPS (DI), Y13        // w
	VMULPS Y13, Y8, Y14      // w*decay
	VMULPS Y14, Y6, Y14      // lr*(w*decay)
	VADDPS Y14, Y10, Y10     // step + lr*(w*decay)
	VSUBPS Y10, Y13, Y13     // w - step
	VMOVUPS Y13, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JNE adamloop

adamdone:
	VZEROUPPER
	RET
